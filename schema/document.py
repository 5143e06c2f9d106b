"""From a CloudTrail record to the document stored for it.

The stored ``_source`` is the record itself, untouched, so an event comes back exactly as
CloudTrail wrote it. Beside it, under ``trailql``, go fields derived for searching; the
mapping excludes that namespace from ``_source``, so it is indexed but never stored.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import orjson

from schema.fields import EVENT_FIELDS, Kind

DERIVED = "trailql"

#: Opaque fields (requestParameters, ...) whose searchable copy is indexed under ``trailql``.
OPAQUE_FIELDS: tuple[str, ...] = tuple(f.name for f in EVENT_FIELDS if f.kind is Kind.JSON)

#: Nesting kept in a searchable copy. Deeper subtrees are indexed as their JSON text, which
#: keeps every document under Elasticsearch's flattened depth limit without dropping it.
SEARCHABLE_DEPTH = 16

#: The key a scalar gets when CloudTrail records a parameter block as a bare value.
SCALAR_KEY = "_value"

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


class InvalidRecordError(ValueError):
    """A record that cannot be stored, with the reason a person can act on."""


@dataclass(frozen=True, slots=True)
class EventDocument:
    """What the indexer writes for one record."""

    event_id: str
    event_time: datetime
    source: dict[str, Any]


def event_document(record: object) -> EventDocument:
    """Check one record and derive its searchable fields."""
    if not isinstance(record, dict):
        raise InvalidRecordError(f"a record must be a JSON object, not {type(record).__name__}")
    event_id = record.get("eventID")
    if not isinstance(event_id, str) or not event_id.strip():
        raise InvalidRecordError("record has no eventID")
    event_time = parse_event_time(record.get("eventTime"))
    derived: dict[str, Any] = {}
    principal = principal_name(record.get("userIdentity"))
    if principal is not None:
        derived["principal"] = principal
    source_ip = ip_address(record.get("sourceIPAddress"))
    if source_ip is not None:
        derived["sourceIp"] = source_ip
    log_groups = log_group_names(record.get("requestParameters"))
    if log_groups:
        derived["logGroupName"] = log_groups
    for name in OPAQUE_FIELDS:
        copy = searchable(record.get(name))
        if copy is not None:
            derived[name] = copy
    derived["text"] = search_text(record, [principal or "", *log_groups])
    return EventDocument(event_id, event_time, {**record, DERIVED: derived})


def search_text(record: dict[str, Any], extra: list[str]) -> str:
    """Names, messages and parameter values, as one text for free-text search."""
    parts = list(extra)
    _add_named_values(record, parts)
    for name in OPAQUE_FIELDS:
        block = record.get(name)
        if isinstance(block, dict):
            _collect_leaves(block.values(), parts)
        elif isinstance(block, list):
            _collect_leaves(block, parts)
        elif block is not None:
            _collect_leaves((block,), parts)
    return "\n".join(filter(None, parts))[:SEARCH_TEXT_LIMIT]


def _add_named_values(record: dict[str, Any], parts: list[str]) -> None:
    """The texts at :data:`_SEARCHED_PATHS`, then the resources' ARNs."""
    for path in _SEARCHED_PATHS:
        value: Any = record
        for key in path:
            if not isinstance(value, dict):
                value = None
                break
            value = value.get(key)
        if isinstance(value, str):
            parts.append(value)
    for resource in record.get("resources") or ():
        if isinstance(resource, dict):
            arn = resource.get("ARN")
            if isinstance(arn, str):
                parts.append(arn)


def _collect_leaves(values: Iterable[object], parts: list[str]) -> None:
    """Every string and number below ``values``, depth first, as text."""
    for value in values:
        if isinstance(value, str):
            parts.append(value)
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
    """CloudTrail writes ``2023-07-10T12:18:07Z``; anything ISO-8601 with a zone is accepted."""
    if not isinstance(value, str):
        raise InvalidRecordError("record has no eventTime")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidRecordError(f"eventTime {value!r} is not an ISO-8601 time") from None
    if parsed.tzinfo is None:
        raise InvalidRecordError(f"eventTime {value!r} has no time zone")
    return parsed.astimezone(UTC)


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


def searchable(value: object, depth: int = 0) -> Any:
    """A version of an opaque block that the flattened field always accepts.

    Flattened fields take only objects: a bare value becomes ``{"_value": ...}``, and
    subtrees deeper than :data:`SEARCHABLE_DEPTH` are replaced by their JSON text. A block
    that already fits (nearly every one) is used as it is, not copied.
    """
    if value is None:
        return None
    if depth == 0 and not (isinstance(value, dict | list) and _nests_too_deep(value, 0)):
        return value if isinstance(value, dict) else {SCALAR_KEY: value}
    copy = _cut_below(value, depth)
    return {SCALAR_KEY: copy} if depth == 0 and isinstance(value, list) else copy


def _cut_below(value: object, depth: int) -> Any:
    """A copy of ``value`` (at ``depth``) with every too-deep subtree as its JSON text."""
    if depth >= SEARCHABLE_DEPTH and isinstance(value, dict | list):
        return orjson.dumps(value).decode()
    if isinstance(value, dict):
        return {key: _cut_below(item, depth + 1) for key, item in value.items()}
    if isinstance(value, list):
        return [_cut_below(item, depth + 1) for item in value]
    return value


def _nests_too_deep(container: dict[str, Any] | list[Any], depth: int) -> bool:
    """Whether an object or array sits at :data:`SEARCHABLE_DEPTH` or deeper below."""
    if depth >= SEARCHABLE_DEPTH:
        return True
    for item in container.values() if isinstance(container, dict) else container:
        if isinstance(item, dict | list) and _nests_too_deep(item, depth + 1):
            return True
    return False
