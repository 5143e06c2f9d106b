"""From a CloudTrail record to the document stored for it.

The stored ``_source`` is the record itself, untouched, so an event comes back exactly as
CloudTrail wrote it. Beside it, under ``trailql``, go fields derived for searching; the
mapping excludes that namespace from ``_source``, so it is indexed but never stored.

A record that cannot be stored as an event raises :class:`InvalidRecordError` with a short
``reason`` (a metric label) and a message a person can act on.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import orjson

from schema.fields import EVENT_FIELDS, KEYWORD_IGNORE_ABOVE, Field, Kind

DERIVED = "trailql"
#: The derived field that says when the indexer sent the event: not derived from the record,
#: so :func:`event_document` leaves it out and the indexer writes it as it sends.
INDEXED_AT = "indexedAt"

#: Elasticsearch refuses an ``_id`` longer than this many bytes (UTF-8).
MAX_ID_BYTES = 512
#: Begins every derived ``_id``; an eventID that itself begins so gets a derived one too,
#: so no eventID can pass for another event's derived ``_id``.
DERIVED_ID_PREFIX = "sha256:"

#: Nesting a record may have: as deep as orjson writes. CloudTrail's nest about a dozen
#: levels; deeper ones would overrun orjson, then Python's recursion limit and Elasticsearch.
MAX_NESTING = 254

#: Opaque fields (requestParameters, ...) whose searchable copy is indexed under ``trailql``.
OPAQUE_FIELDS: tuple[str, ...] = tuple(f.name for f in EVENT_FIELDS if f.kind is Kind.JSON)

#: Nesting kept in a searchable copy. Deeper subtrees are indexed as their JSON text, which
#: keeps every document under Elasticsearch's flattened depth limit without dropping it.
SEARCHABLE_DEPTH = 16

#: The key a scalar gets when CloudTrail records a parameter block as a bare value.
SCALAR_KEY = "_value"

#: Top-level names the search engines keep for their own fields. Elasticsearch refuses a
#: document with most of them; OpenSearch stores some; and ``_doc_count`` would be taken as
#: the number of events the document stands for, inflating every count. Every engine gets
#: the same answer: the record is quarantined.
METADATA_FIELDS = frozenset(
    {
        "_id",
        "_index",
        "_source",
        "_routing",
        "_ignored",
        "_ignored_source",
        "_seq_no",
        "_primary_term",
        "_version",
        "_doc_count",
        "_field_names",
        "_data_stream_timestamp",
        "_tier",
        "_nested_path",
        "_feature",
        "_size",
        "_tsid",
    }
)

#: Free text indexed per event for ``search``; enough for every parameter of real calls.
SEARCH_TEXT_LIMIT = 32 * 1024

#: Fields whose text ``search`` finds, beside every value in the parameter blocks.
_SEARCHED_PATHS = (
    ("eventName",),
    ("eventSource",),
    ("errorCode",),
    ("errorMessage",),
    ("userIdentity", "arn"),
    ("userIdentity", "userName"),
    ("userIdentity", "sessionContext", "sessionIssuer", "userName"),
)


#: Exactly the IPv4 addresses ``ipaddress`` accepts (four decimal octets up to 255, no leading
#: zeros), each already in canonical form: most CloudTrail addresses, checked without it.
_OCTET = "(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4 = re.compile(rf"{_OCTET}\.{_OCTET}\.{_OCTET}\.{_OCTET}")


#: What ``eventTime`` must look like: the RFC 3339 subset that both Python and Elasticsearch's
#: ``strict_date_optional_time`` read the same way. (Python alone also reads week dates,
#: a space for the ``T`` and basic formats, which Elasticsearch would leave unindexed.)
_EVENT_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2})")


class InvalidRecordError(ValueError):
    """A record that cannot be stored as an event, with the reason a person can act on.

    ``reason`` names the kind of problem in a word or two (``no_event_id``, ``bad_event_time``,
    ...), for counting; the message says what exactly is wrong with this record.
    """

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(slots=True)  # not frozen: one per event, and frozen inits cost twice as much
class EventDocument:
    """What the indexer writes for one record."""

    event_id: str
    event_time: datetime
    #: The record, as parsed: never changed.
    record: dict[str, Any]
    #: The fields derived for searching, stored under :data:`DERIVED`.
    derived: dict[str, Any]
    #: The record's JSON text: its own bytes when given, else as orjson writes it; None when
    #: orjson cannot (integers beyond 64 bits, text that is not Unicode).
    record_json: bytes | None = None

    @property
    def source(self) -> dict[str, Any]:
        """The document as a value: the record with its search fields under :data:`DERIVED`."""
        return {**self.record, DERIVED: self.derived}

    @property
    def document_id(self) -> str:
        """The ``_id`` to store the event under: see :func:`document_id`."""
        return document_id(self.event_id)


def document_id(event_id: str) -> str:
    """The eventID itself when Elasticsearch takes it as an ``_id``, else one derived from it.

    Derived: ``sha256:`` and the SHA-256 of the eventID, the same every time, so loading the
    same record again still finds it already present.
    """
    if not event_id.startswith(DERIVED_ID_PREFIX) and (
        # At most 4 bytes a character: surely short enough, without encoding it.
        len(event_id) <= MAX_ID_BYTES // 4 or len(event_id.encode()) <= MAX_ID_BYTES
    ):
        return event_id
    return DERIVED_ID_PREFIX + hashlib.sha256(event_id.encode()).hexdigest()


def event_document(
    record: object, log_file: str | None = None, raw: bytes | None = None
) -> EventDocument:
    """Check one record and derive its searchable fields; ``log_file``: the file it came from.

    The file is named as it was read: an ``s3://bucket/key`` URI or a path. ``raw``: the
    record's own JSON text, when the caller has it (it is then kept, not written again).
    """
    if not isinstance(record, dict):
        raise InvalidRecordError(
            f"a record must be a JSON object, not {_json_type(record)}", "not_an_object"
        )
    record_json, shallow = _record_json(record, raw)
    get = record.get
    event_id = check_event_id(get("eventID"))
    event_time = parse_event_time(get("eventTime"))
    if DERIVED in record:
        raise InvalidRecordError(
            f"the record has a top-level field {DERIVED!r}, the name TrailQL keeps for its "
            "search fields (it would be lost from the stored record)",
            "reserved_field",
        )
    if not METADATA_FIELDS.isdisjoint(record):
        name = min(METADATA_FIELDS.intersection(record))
        raise InvalidRecordError(
            f"the record has a top-level field {name!r}, a name the search engine keeps for "
            "its own metadata",
            "metadata_field",
        )
    derived = derived_fields(record, shallow=shallow)
    if log_file is not None:
        derived["logFile"] = log_file
    return EventDocument(event_id, event_time, record, derived, record_json)


def derived_fields(record: dict[str, Any], *, shallow: bool = False) -> dict[str, Any]:
    """The fields TrailQL derives from a record for searching, but its file and indexed time.

    What the indexer stores under ``trailql``; a live subscription derives them again from
    the stored record to match new events in-process (``api.matching``). ``shallow``: the
    record is known to nest too little, and to hold no string too long, for any parameter
    block to need a copy (see :func:`_record_json`): the blocks are taken as they are.
    """
    get = record.get
    derived: dict[str, Any] = {}
    principal = principal_name(get("userIdentity"))
    if principal is not None:
        derived["principal"] = principal
    source_ip = ip_address(get("sourceIPAddress"))
    if source_ip is not None:
        derived["sourceIp"] = source_ip
    log_groups = log_group_names(get("requestParameters"))
    if log_groups:
        derived["logGroupName"] = log_groups
    for name in OPAQUE_FIELDS:
        block = get(name)
        if block is None:
            continue
        if shallow:  # nothing in the record nests deep enough or is long enough to need a copy
            derived[name] = block if type(block) is dict else {SCALAR_KEY: block}
        else:
            derived[name] = searchable(block)
    derived["text"] = search_text(record, principal, log_groups)
    return derived


#: Objects and arrays a record's text may open and still be known to nest no deeper than
#: :data:`SEARCHABLE_DEPTH` below any of its top-level fields (the record is one of them).
_SHALLOW_BRACKETS = SEARCHABLE_DEPTH + 1

#: Matches a record's JSON text that holds a string too long to index: when it does not (as
#: for nearly every record), no parameter string needs to be left out. One pass from the
#: start, never back (possessive): text outside strings, and strings short enough, then one
#: that is not. (Searching for a long string from every quote instead is quadratic: 0.6 s for
#: 40 KB of escaped quotes.)
_LONG_STRING = re.compile(
    rb'(?:[^"]++|"(?:[^"\\]|\\.){0,%d}")*+"(?:[^"\\]|\\.){%d}'
    % (KEYWORD_IGNORE_ABOVE, KEYWORD_IGNORE_ABOVE + 1)
)


def _record_json(record: dict[str, Any], raw: bytes | None) -> tuple[bytes | None, bool]:
    """The record's JSON text, and whether it surely nests too little for any opaque copy.

    Both checked on the text, which also shows it nests no deeper than it should: counting its
    brackets bounds its depth, and writing it in C is cheaper than walking it in Python. Only
    when orjson cannot write it for another reason is the depth measured by walking.
    """
    if raw is not None:
        brackets = raw.count(b"{") + raw.count(b"[")
        if brackets > MAX_NESTING and nests_deeper_than(record, MAX_NESTING):
            raise InvalidRecordError(
                f"the record nests deeper than {MAX_NESTING} levels", "too_deep"
            )
        plain = brackets <= _SHALLOW_BRACKETS and (
            len(raw) <= KEYWORD_IGNORE_ABOVE or _LONG_STRING.match(raw) is None
        )
        return raw, plain
    try:
        return orjson.dumps(record), False
    except orjson.JSONEncodeError:
        pass
    if nests_deeper_than(record, MAX_NESTING):
        raise InvalidRecordError(f"the record nests deeper than {MAX_NESTING} levels", "too_deep")
    return None, False


def check_event_id(value: object) -> str:
    """The eventID, if it can identify an event: a non-blank string Elasticsearch indexes.

    Longer eventIDs get a derived ``_id`` (see :func:`document_id`), but one longer than
    :data:`KEYWORD_IGNORE_ABOVE` would not be indexed, so it could neither be looked up by
    nor order pages: such a record is refused rather than stored half-findable.
    """
    if value is None:
        raise InvalidRecordError("record has no eventID", "no_event_id")
    if not isinstance(value, str):
        raise InvalidRecordError(
            f"eventID must be a string, not {_json_type(value)}", "bad_event_id"
        )
    if not value.strip():
        raise InvalidRecordError("record has no eventID (it is blank)", "no_event_id")
    # Elasticsearch counts UTF-16 code units; no string of 2,048 characters or fewer has more.
    if len(value) > KEYWORD_IGNORE_ABOVE // 2 and _utf16_length(value) > KEYWORD_IGNORE_ABOVE:
        raise InvalidRecordError(
            f"eventID is longer than {KEYWORD_IGNORE_ABOVE:,} characters", "bad_event_id"
        )
    try:
        value.encode()
    except UnicodeEncodeError:
        raise InvalidRecordError("eventID is not valid Unicode", "bad_event_id") from None
    return value


def _utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def nests_deeper_than(value: object, limit: int) -> bool:
    """Whether objects and arrays nest more than ``limit`` levels; iterative, for any depth."""
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        children = node.values() if isinstance(node, dict) else node
        for child in children:  # type: ignore[attr-defined]
            if isinstance(child, dict | list):
                if depth + 1 > limit:
                    return True
                stack.append((child, depth + 1))
    return False


def mistyped(record: dict[str, Any]) -> dict[str, str]:
    """The top-level fields holding a JSON type their mapping cannot index, and why.

    Asked of a record Elasticsearch refused, rather than of every record: it costs as much as
    deriving the search fields. Types that only fail to parse (a date that is not a date,
    "yes" for a boolean) are not listed: ``index.mapping.ignore_malformed`` leaves just that
    value unindexed. What it does not cover is an object where a value is mapped, or a value
    where an object is.
    """
    found: dict[str, str] = {}
    for name, value in record.items():
        shape = _SHAPES.get(name)
        # Nearly every value is a plain one where a plain one is mapped: settled at once.
        if shape is None or value is None or (not shape.is_object and type(value) in _PLAIN):
            continue
        problem = _misfit(shape, value, name)
        if problem is not None:
            found[name] = problem
    return found


@dataclass(frozen=True, slots=True)
class _Shape:
    """What JSON a mapped field takes: a value of some kind, or an object of named fields."""

    kind: Kind
    is_object: bool
    children: dict[str, _Shape]

    @classmethod
    def of(cls, event_field: Field) -> _Shape:
        children = {child.name: cls.of(child) for child in event_field.children}
        return cls(event_field.kind, event_field.kind is Kind.OBJECT, children)


#: Every field whose mapping constrains its JSON type (all but the opaque blocks), by name.
_SHAPES = {f.name: _Shape.of(f) for f in EVENT_FIELDS if f.kind is not Kind.JSON}
_PLAIN = frozenset({str, int, float, bool})


def _misfit(shape: _Shape, value: object, path: str) -> str | None:
    """Why ``value`` does not fit the mapping of ``shape``, or None when it does."""
    if type(value) is list:  # Elasticsearch indexes every item of an array alike
        for item in value:
            problem = _misfit(shape, item, path)
            if problem is not None:
                return problem
        return None
    if value is None:
        return None
    if shape.is_object:
        return _object_misfit(shape, value, path)
    if type(value) is dict:
        return f"{path} is an object, where a {shape.kind.value} value is expected"
    return None


def _object_misfit(shape: _Shape, value: object, path: str) -> str | None:
    if type(value) is not dict:
        return f"{path} is {_json_type(value)}, where an object is expected"
    for name, child_value in value.items():
        child = shape.children.get(name)
        if child is not None and (child.is_object or type(child_value) in (dict, list)):
            problem = _misfit(child, child_value, f"{path}.{name}")
            if problem is not None:
                return problem
    return None


def _json_type(value: object) -> str:
    """A value's JSON type, as a person says it."""
    match value:
        case bool():
            return "a boolean"
        case int() | float():
            return "a number"
        case str():
            return "a string"
        case list():
            return "an array"
        case dict():
            return "an object"
        case _:
            return "null"


def search_text(record: dict[str, Any], principal: str | None, log_groups: list[str]) -> str:
    """Names, messages and parameter values, as one text for free-text search.

    In order: the principal, the log groups, the texts at :data:`_SEARCHED_PATHS`, the
    resources' ARNs, then every string and number in the parameter blocks.
    """
    parts = [principal, *log_groups] if principal else list(log_groups)
    _add_named_values(record, parts)
    get = record.get
    for name in OPAQUE_FIELDS:
        block = get(name)
        if isinstance(block, dict):
            _collect_leaves(block.values(), parts)
        elif isinstance(block, list):
            _collect_leaves(block, parts)
        elif block is not None:
            _collect_leaves((block,), parts)
    return "\n".join(filter(None, parts))[:SEARCH_TEXT_LIMIT]


def _add_named_values(record: dict[str, Any], parts: list[str]) -> None:
    """The texts at :data:`_SEARCHED_PATHS`, then the resources' ARNs.

    Written out path by path rather than walked: it runs for every event.
    """
    get = record.get
    named = (get("eventName"), get("eventSource"), get("errorCode"), get("errorMessage"))
    parts += [value for value in named if isinstance(value, str)]
    identity = get("userIdentity")
    if isinstance(identity, dict):
        names = (identity.get("arn"), identity.get("userName"))
        parts += [value for value in names if isinstance(value, str)]
        context = identity.get("sessionContext")
        issuer = context.get("sessionIssuer") if isinstance(context, dict) else None
        if isinstance(issuer, dict):
            issuer_name = issuer.get("userName")
            if isinstance(issuer_name, str):
                parts.append(issuer_name)
    resources = get("resources")
    if isinstance(resources, list):
        arns = (resource.get("ARN") for resource in resources if isinstance(resource, dict))
        parts += [arn for arn in arns if isinstance(arn, str)]


def _collect_leaves(values: Iterable[object], parts: list[str]) -> None:
    """Every string and number below ``values``, depth first, as text."""
    for value in values:
        kind = type(value)
        if kind is str:
            parts.append(value)  # type: ignore[arg-type]
        elif kind is dict:
            _collect_leaves(value.values(), parts)  # type: ignore[attr-defined]
        elif kind is list:
            _collect_leaves(value, parts)  # type: ignore[arg-type]
        elif kind is int or kind is float:
            parts.append(str(value))
        elif kind is not bool and value is not None:
            _collect_other(value, parts)


def _collect_other(value: object, parts: list[str]) -> None:
    """:func:`_collect_leaves` for values of other types than JSON's own (their subclasses)."""
    if isinstance(value, str):
        parts.append(str(value))
    elif isinstance(value, dict):
        _collect_leaves(value.values(), parts)
    elif isinstance(value, list):
        _collect_leaves(value, parts)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        parts.append(str(value))


def failed(record: dict[str, Any]) -> bool:
    """Whether the call failed: it has an errorCode, and the code is not empty.

    CloudTrail leaves errorCode out of successful calls; some producers write it as null or
    as an empty string, and neither is an error. ``api.filters.failure_query`` is the same
    test in Elasticsearch's terms.
    """
    code = record.get("errorCode")
    return code is not None and code != ""


def parse_event_time(value: object) -> datetime:
    """CloudTrail writes ``2023-07-10T12:18:07Z``; an offset and up to 9 decimals are accepted.

    A time Python reads but Elasticsearch would not (so the event would be stored without
    a time, and missed by every time filter) is refused too.
    """
    if value is None:
        raise InvalidRecordError("record has no eventTime", "no_event_time")
    if not isinstance(value, str):
        raise InvalidRecordError(
            f"eventTime must be a string, not {_json_type(value)}", "bad_event_time"
        )
    if _EVENT_TIME.fullmatch(value) is None:
        shown = _shown(value)
        if _EVENT_TIME.fullmatch(value + "Z") is not None:
            raise InvalidRecordError(f"eventTime {shown} has no time zone", "bad_event_time")
        raise InvalidRecordError(
            f"eventTime {shown} is not an ISO-8601 time (such as 2023-07-10T12:18:07Z)",
            "bad_event_time",
        )
    try:
        moment = datetime.fromisoformat(value)
        return moment if moment.tzinfo is UTC else moment.astimezone(UTC)
    except (ValueError, OverflowError):  # February 30th; or past year 9999 once in UTC
        raise InvalidRecordError(
            f"eventTime {_shown(value)} is not a valid time", "bad_event_time"
        ) from None


def _shown(value: str) -> str:
    """A time as an error message quotes it: at most 64 characters of it."""
    return repr(value[:64]) + ("…" if len(value) > 64 else "")  # noqa: PLR2004


def principal_name(identity: object) -> str | None:  # noqa: PLR0911  one return per identity type
    """The name a person means by "who", for every identity type CloudTrail records.

    IAM users by user name, assumed roles as ``role/session`` (the session often names the
    human or the function), root as ``root``, services by the service's name, federated and
    Identity Center users by their user name or ID.
    """
    if not isinstance(identity, dict):
        return None
    identity_type = identity.get("type")
    arn = identity.get("arn")
    if identity_type == "Root":
        return "root"
    if identity_type == "AssumedRole" and isinstance(arn, str) and ":assumed-role/" in arn:
        return arn.split(":assumed-role/", 1)[1]
    if identity_type == "FederatedUser" and isinstance(arn, str) and ":federated-user/" in arn:
        return arn.split(":federated-user/", 1)[1]
    if identity_type == "IdentityCenterUser":
        on_behalf_of = identity.get("onBehalfOf")
        if isinstance(on_behalf_of, dict) and isinstance(on_behalf_of.get("userId"), str):
            return str(on_behalf_of["userId"])
    for key in ("userName", "invokedBy", "principalId", "accountId"):
        value = identity.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def ip_address(value: object) -> str | None:
    """The address in canonical form when it is a valid IPv4 or IPv6 address.

    CloudTrail also records service names (``logs.amazonaws.com``), ``AWS Internal``, empty
    strings and, in some published samples, malformed addresses such as ``253.252.51.07``.
    """
    if not isinstance(value, str) or not value:
        return None
    if ":" not in value:  # IPv4 or not an address: no need for ipaddress's parser
        return value if _IPV4.fullmatch(value) else None
    return _canonical_ipv6(value)


@lru_cache(maxsize=8192)
def _canonical_ipv6(value: str) -> str | None:
    """IPv6 parsing is slow and a caller's addresses recur, so answers are remembered."""
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


def log_group_names(request_parameters: object) -> list[str]:
    """Every log group a CloudWatch Logs request names, by name (ARNs are reduced to names).

    By logGroupName, logGroupIdentifier(s), logGroupNames, or a log-group resourceArn (tags
    and resource policies name the group only that way).
    """
    if not isinstance(request_parameters, dict):
        return []
    found: list[str] = []
    for key in ("logGroupName", "logGroupIdentifier"):
        _add_log_group(found, request_parameters.get(key))
    resource_arn = request_parameters.get("resourceArn")  # TagResource, resource policies
    if isinstance(resource_arn, str) and ":log-group:" in resource_arn:
        _add_log_group(found, resource_arn)
    for key in ("logGroupNames", "logGroupIdentifiers"):
        values = request_parameters.get(key)
        if isinstance(values, list):
            for value in values:
                _add_log_group(found, value)
    return found


def _add_log_group(found: list[str], value: object) -> None:
    if not isinstance(value, str) or not value:
        return
    if value.startswith("arn:") and ":log-group:" in value:
        value = value.split(":log-group:", 1)[1].removesuffix(":*")
    if value not in found:
        found.append(value)


def searchable(value: object) -> Any:
    """A version of an opaque block that the flattened field of every engine accepts alike.

    Flattened fields take only objects: a bare value becomes ``{"_value": ...}``. Subtrees
    deeper than :data:`SEARCHABLE_DEPTH` are replaced by their JSON text. Strings longer
    than :data:`KEYWORD_IGNORE_ABOVE` are left out: Elasticsearch's ``ignore_above`` would
    leave them unindexed, and OpenSearch's ``flat_object``, which has none, refuses the whole
    event for a value over 32 KB. A block that already fits (nearly every one) is used as it
    is, not copied.
    """
    if value is None:
        return None
    if not _needs_copy(value, 0):
        return value if isinstance(value, dict) else {SCALAR_KEY: value}
    copy = _cut_below(value, 0)
    if isinstance(copy, dict):
        return copy
    return {} if copy is _LEFT_OUT else {SCALAR_KEY: copy}


#: What :func:`_cut_below` returns for a value the copy leaves out.
_LEFT_OUT = object()


def _cut_below(value: object, depth: int) -> Any:
    """A copy of ``value`` (at ``depth``): too-deep subtrees as JSON text, too-long text out."""
    if depth >= SEARCHABLE_DEPTH and isinstance(value, dict | list):
        value = orjson.dumps(value).decode()
    if isinstance(value, str):
        return _LEFT_OUT if _too_long(value) else value
    if isinstance(value, dict):
        kept = ((key, _cut_below(item, depth + 1)) for key, item in value.items())
        return {key: item for key, item in kept if item is not _LEFT_OUT}
    if isinstance(value, list):
        return [
            item for item in (_cut_below(one, depth + 1) for one in value) if item is not _LEFT_OUT
        ]
    return value


def _needs_copy(value: object, depth: int) -> bool:
    """Whether a container sits at :data:`SEARCHABLE_DEPTH` or deeper, or a string is too long."""
    if isinstance(value, str):
        return _too_long(value)
    if not isinstance(value, dict | list):
        return False
    if depth >= SEARCHABLE_DEPTH:
        return True
    items = value.values() if isinstance(value, dict) else value
    return any(_needs_copy(item, depth + 1) for item in items)


def _too_long(text: str) -> bool:
    """Longer than a keyword is indexed (counted as Elasticsearch does, in UTF-16 units)."""
    return len(text) > KEYWORD_IGNORE_ABOVE // 2 and _utf16_length(text) > KEYWORD_IGNORE_ABOVE
