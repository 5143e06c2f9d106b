"""Whether an event matches an Elasticsearch query, decided in this process.

A live subscription sees every new event once, in the one poll that found it, and must tell
whether its filter matches without asking Elasticsearch again (``api.live``). So the filter
is matched here from the very query Elasticsearch would run, the one ``api.filters`` builds
(with the tenant's confinement around it): :func:`compile_query` turns that query into a
Python predicate, once per subscription. There is no second reading of an EventFilter that
could drift from the first: whatever the query says, both sides say.

Each field is matched as its mapping indexes it (``schema.mapping``): keywords as the exact
text of each value (numbers as written in the stored record, booleans as ``true``/``false``,
values over ``ignore_above`` not at all), booleans parsed as Elasticsearch parses them
(``""`` is false; anything else unreadable is left out, as ``ignore_malformed`` does), dates
in whole milliseconds, addresses in IPv6's space (where IPv4 addresses are mapped),
``flattened`` parameter blocks by key path with their leaves only, and ``trailql.text``
through the standard analyzer (``api.simple_query``). The derived fields are derived again
from the stored record by the very function the indexer uses. An event stored without one
field (``<alias>_without_<field>``) has nothing in that field here either.

A query this module does not know is refused when compiled (:class:`UnsupportedQueryError`),
never guessed at; a test holds every filter case the query tests use to the same answers as
Elasticsearch.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any

import orjson

from api.simple_query import Query, TextIndex, UnsupportedSearchError, parse
from common.times import utc
from schema import DERIVED, KEYWORD_IGNORE_ABOVE, derived_fields, event_mapping, mistyped
from schema.document import parse_event_time

Predicate = Callable[["IndexedEvent"], bool]

_IPV4_MAPPED = 0xFFFF << 32
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MILLISECOND = timedelta(milliseconds=1)
#: Field types compared term by term (text is matched by ``simple_query_string`` only).
_TERM_KINDS = frozenset({"keyword", "boolean", "date", "ip", "flattened"})


class UnsupportedQueryError(ValueError):
    """A query (or part of one) that cannot be matched here exactly as Elasticsearch would."""


class MappedFields:
    """Every indexed path's type, and the ``flattened`` roots, read from a mapping itself."""

    __slots__ = ("flattened", "types")

    def __init__(self, properties: dict[str, Any]) -> None:
        types: dict[str, str] = {}
        flattened: set[str] = set()
        stack: list[tuple[str, dict[str, Any]]] = [("", properties)]
        while stack:
            prefix, level = stack.pop()
            for name, mapping in level.items():
                path = f"{prefix}{name}"
                kind = mapping.get("type", "object")
                if "properties" in mapping:
                    stack.append((f"{path}.", mapping["properties"]))
                elif kind == "flattened":
                    flattened.add(path)
                elif kind != "object":
                    types[path] = kind
                    for sub_name, sub in mapping.get("fields", {}).items():
                        types[f"{path}.{sub_name}"] = sub["type"]
        self.types = types
        self.flattened = frozenset(flattened)


#: The fields of an event, as the events' mapping indexes them (the default).
EVENT_FIELDS = MappedFields(event_mapping()["properties"])


class IndexedEvent:
    """One stored event, with its fields as Elasticsearch indexed them, worked out lazily.

    Shared by every subscription the event is matched against, so each field is read once.
    ``unindexed`` is the top-level field its index leaves out (``<alias>_without_<field>``).
    """

    def __init__(self, record: dict[str, Any], unindexed: str | None = None) -> None:
        self.record = record
        self.unindexed = unindexed
        self._values: dict[str, tuple[Any, ...]] = {}

    @classmethod
    def as_stored(cls, record: dict[str, Any]) -> IndexedEvent:
        """A record read from a trail file, stored as the indexer would store it."""
        wrong = mistyped(record)
        return cls(record, next(iter(wrong)) if len(wrong) == 1 else None)

    @cached_property
    def derived(self) -> dict[str, Any]:
        """The ``trailql`` search fields, derived as the indexer derives them."""
        return derived_fields(self.record)

    @cached_property
    def text(self) -> TextIndex:
        """The words of ``trailql.text``."""
        return TextIndex.of(self.derived.get("text", ""))

    def leaves(self, path: str) -> tuple[Any, ...]:
        """Every value at a dotted path, through lists, as Elasticsearch reads a document."""
        found = self._values.get(path)
        if found is None:
            head, _, rest = path.partition(".")
            if head == self.unindexed:
                found = ()
            elif head == DERIVED:
                found = tuple(_leaves(self.derived, rest.split(".")))
            else:
                found = tuple(_leaves(self.record, path.split(".")))
            self._values[path] = found
        return found

    def keyed(self, root: str, key: str) -> tuple[str, ...]:
        """A ``flattened`` field's values at one key path, as the text it indexes."""
        path = f"{root}\x00{key}"
        found = self._values.get(path)
        if found is None:
            block = self.derived.get(root.removeprefix(f"{DERIVED}."))
            found = tuple(
                text
                for value in _flattened_leaves(block, key.split("."))
                if (text := _keyword_text(value)) is not None
            )
            self._values[path] = found
        return found


def _leaves(value: Any, keys: list[str]) -> Iterator[Any]:
    """The values at ``keys`` below ``value``: arrays at any level are read item by item."""
    if isinstance(value, list):
        for item in value:
            yield from _leaves(item, keys)
    elif not keys:
        if value is not None:
            yield value
    elif isinstance(value, dict):
        yield from _leaves(value.get(keys[0]), keys[1:])


def _flattened_leaves(value: Any, keys: list[str]) -> Iterator[Any]:
    """A flattened field's leaves at exactly this key path; objects there are not leaves.

    Keys join with dots, so a key ``"a.b"`` and a key ``b`` inside ``a`` are one path.
    """
    if isinstance(value, list):
        for item in value:
            yield from _flattened_leaves(item, keys)
    elif isinstance(value, dict):
        for name, child in value.items():
            parts = name.split(".")
            if keys[: len(parts)] == parts:
                yield from _flattened_leaves(child, keys[len(parts) :])
    elif not keys and value is not None:
        yield value


def _utf16_length(text: str) -> int:
    if text.isascii():
        return len(text)
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def _keyword_text(value: Any) -> str | None:
    """The term a keyword (or flattened) field indexes for one JSON value, or None."""
    if isinstance(value, str):
        text = value
    elif isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, int | float):
        try:
            text = orjson.dumps(value).decode()  # numbers as the stored record writes them
        except orjson.JSONEncodeError:
            text = str(value)
    else:
        return None
    return text if _utf16_length(text) <= KEYWORD_IGNORE_ABOVE else None


def _boolean(value: Any) -> bool | None:
    """A boolean field's value as Elasticsearch parses it; None where it is malformed."""
    if isinstance(value, bool):
        return value
    if value in ("false", ""):
        return False
    if value == "true":
        return True
    return None


def _millis(value: Any) -> int | None:
    """A date as Elasticsearch keeps it: whole milliseconds since the epoch (floored)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if not isinstance(value, str):
        return None
    try:
        moment = parse_event_time(value)
    except ValueError:
        try:
            moment = utc(datetime.fromisoformat(value))
        except ValueError:
            return None
    return (moment - _EPOCH) // _MILLISECOND


def _ip_number(value: Any) -> int | None:
    """An address as a number in IPv6's space, IPv4 mapped (as Elasticsearch stores it)."""
    if not isinstance(value, str):
        return None
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    number = int(address)
    return _IPV4_MAPPED | number if address.version == 4 else number  # noqa: PLR2004


def _ip_range(value: Any) -> tuple[int, int]:
    """The addresses a term on an ``ip`` field matches: an address, or a CIDR range."""
    try:
        network = ipaddress.ip_network(str(value), strict=False)
    except ValueError:
        raise UnsupportedQueryError(f"{value!r} is not an address or a range") from None
    low = int(network.network_address)
    size = network.num_addresses
    if network.version == 4:  # noqa: PLR2004
        low |= _IPV4_MAPPED
    return low, low + size - 1


class _Field:
    """How one queried field's values are read and compared."""

    def __init__(self, path: str, fields: MappedFields) -> None:
        self.path = path
        self.kind = fields.types.get(path)
        self.root: str | None = None
        self.key = ""
        if self.kind is None:
            root = next((r for r in fields.flattened if path.startswith(f"{r}.")), None)
            if root is None:
                raise UnsupportedQueryError(f"{path!r} is not a field of the mapping")
            self.kind, self.root, self.key = "flattened", root, path[len(root) + 1 :]
        if self.kind not in _TERM_KINDS:
            raise UnsupportedQueryError(f"{path!r} ({self.kind}) is not compared term by term")

    def terms(self, event: IndexedEvent) -> tuple[Any, ...]:
        """The field's values as its type indexes them (text fields: not here)."""
        if self.root is not None:
            return event.keyed(self.root, self.key)
        leaves = event.leaves(self.path.removesuffix(".keyword"))
        convert = _CONVERSIONS[self.kind or ""]
        return tuple(term for leaf in leaves if (term := convert(leaf)) is not None)

    def query_value(self, value: Any) -> Any:
        """A value given in a query, as the field compares it."""
        if isinstance(value, dict) and "value" in value:
            value = value["value"]
        if self.kind == "boolean":
            parsed = _boolean(value)
            if parsed is None:
                raise UnsupportedQueryError(f"{value!r} is not a boolean")
            return parsed
        if self.kind == "date":
            return _millis(value)
        if self.kind in {"keyword", "flattened"}:
            return _keyword_text(value) if not isinstance(value, str) else value
        raise UnsupportedQueryError(f"terms on {self.path!r} ({self.kind}) are not matched here")


_CONVERSIONS: dict[str, Callable[[Any], Any]] = {
    "keyword": _keyword_text,
    "boolean": _boolean,
    "date": _millis,
    "ip": _ip_number,
}


def compile_query(query: dict[str, Any], fields: MappedFields = EVENT_FIELDS) -> Predicate:
    """The predicate matching exactly the documents ``query`` matches in Elasticsearch.

    ``fields``: how the documents' mapping indexes them (events' unless told: findings'
    for ``findingsAdded``).

    Raises:
        UnsupportedQueryError: the query uses a clause or a field this module cannot match.
        UnsupportedSearchError: a ``simple_query_string`` asks for fuzzy words or slop.
    """
    if not isinstance(query, dict) or len(query) != 1:
        raise UnsupportedQueryError(f"a query is one clause, not {query!r}")
    [(kind, body)] = query.items()
    compiler = _COMPILERS.get(kind)
    if compiler is None:
        raise UnsupportedQueryError(f"{kind!r} queries are not matched here")
    return compiler(body, fields)


def _match_all(body: Any, fields: MappedFields) -> Predicate:
    del body, fields
    return lambda _: True


def _bool(body: dict[str, Any], fields: MappedFields) -> Predicate:
    required = [compile_query(q, fields) for key in ("must", "filter") for q in _clauses(body, key)]
    excluded = [compile_query(q, fields) for q in _clauses(body, "must_not")]
    optional = [compile_query(q, fields) for q in _clauses(body, "should")]
    unknown = set(body) - {"must", "filter", "must_not", "should", "minimum_should_match"}
    if unknown:
        raise UnsupportedQueryError(f"bool queries with {sorted(unknown)} are not matched here")
    least = body.get("minimum_should_match")
    if least is None:
        least = 0 if required or excluded else 1 if optional else 0
    if not isinstance(least, int):
        raise UnsupportedQueryError(f"minimum_should_match {least!r} is not matched here")

    def matches(event: IndexedEvent) -> bool:
        if not all(predicate(event) for predicate in required):
            return False
        if any(predicate(event) for predicate in excluded):
            return False
        if least <= 0:
            return True
        return sum(1 for predicate in optional if predicate(event)) >= least

    return matches


def _clauses(body: dict[str, Any], key: str) -> list[dict[str, Any]]:
    clauses = body.get(key) or []
    return clauses if isinstance(clauses, list) else [clauses]


def _only(body: dict[str, Any]) -> tuple[str, Any]:
    if not isinstance(body, dict) or len(body) != 1:
        raise UnsupportedQueryError(f"expected one field, not {body!r}")
    [(path, value)] = body.items()
    return path, value


def _term(body: dict[str, Any], fields: MappedFields) -> Predicate:
    path, value = _only(body)
    return _terms({path: [value]}, fields)


def _terms(body: dict[str, Any], fields: MappedFields) -> Predicate:
    path, values = _only(body)
    field = _Field(path, fields)
    if field.kind == "ip":
        ranges = [_ip_range(value) for value in values]
        return lambda event: any(
            low <= number <= high for number in field.terms(event) for low, high in ranges
        )
    wanted = frozenset(field.query_value(value) for value in values)
    return lambda event: not wanted.isdisjoint(field.terms(event))


def _range(body: dict[str, Any], fields: MappedFields) -> Predicate:
    path, bounds = _only(body)
    field = _Field(path, fields)
    if field.kind != "date" or set(bounds) - {"gte", "gt", "lte", "lt"}:
        raise UnsupportedQueryError(f"range {body!r} is not matched here")
    low = field.query_value(bounds["gte"]) if "gte" in bounds else None
    above = field.query_value(bounds["gt"]) if "gt" in bounds else None
    high = field.query_value(bounds["lte"]) if "lte" in bounds else None
    below = field.query_value(bounds["lt"]) if "lt" in bounds else None

    def within(millis: int) -> bool:
        return (
            (low is None or millis >= low)
            and (above is None or millis > above)
            and (high is None or millis <= high)
            and (below is None or millis < below)
        )

    return lambda event: any(within(millis) for millis in field.terms(event))


def _exists(body: dict[str, Any], fields: MappedFields) -> Predicate:
    field = _Field(body["field"], fields)
    return lambda event: bool(field.terms(event))


def _prefix(body: dict[str, Any], fields: MappedFields) -> Predicate:
    path, value = _only(body)
    field = _Field(path, fields)
    prefix = field.query_value(value)
    return lambda event: any(term.startswith(prefix) for term in field.terms(event))


def _wildcard(body: dict[str, Any], fields: MappedFields) -> Predicate:
    path, value = _only(body)
    field = _Field(path, fields)
    options = value if isinstance(value, dict) else {"value": value}
    pattern = _wildcard_pattern(str(options["value"]), bool(options.get("case_insensitive")))
    return lambda event: any(pattern.fullmatch(term) for term in field.terms(event))


def _wildcard_pattern(pattern: str, case_insensitive: bool) -> re.Pattern[str]:  # noqa: FBT001
    r"""Lucene's wildcard syntax as a regular expression.

    ``*`` is any text, ``?`` one character, ``\\`` escapes; Elasticsearch's
    ``case_insensitive`` folds ASCII letters only.
    """
    parts: list[str] = []
    characters = iter(pattern)
    for character in characters:
        if character == "*":
            parts.append(".*")
        elif character == "?":
            parts.append(".")
        else:
            literal = next(characters, "\\") if character == "\\" else character
            if case_insensitive and literal.isascii() and literal.isalpha():
                parts.append(f"[{literal.lower()}{literal.upper()}]")
            else:
                parts.append(re.escape(literal))
    return re.compile("".join(parts), re.DOTALL)


def _simple_query_string(body: dict[str, Any], fields: MappedFields) -> Predicate:
    searched = body.get("fields") or []
    known = {"query", "fields", "default_operator"}
    if len(searched) != 1 or set(body) - known or fields.types.get(searched[0]) != "text":
        raise UnsupportedQueryError(f"simple_query_string {body!r} is not matched here")
    query: Query = parse(str(body["query"]), default_operator=body.get("default_operator", "or"))
    return lambda event: query.matches(event.text)


_COMPILERS: dict[str, Callable[[Any, MappedFields], Predicate]] = {
    "match_all": _match_all,
    "bool": _bool,
    "term": _term,
    "terms": _terms,
    "range": _range,
    "exists": _exists,
    "prefix": _prefix,
    "wildcard": _wildcard,
    "simple_query_string": _simple_query_string,
}

__all__ = [
    "EVENT_FIELDS",
    "IndexedEvent",
    "MappedFields",
    "Predicate",
    "UnsupportedQueryError",
    "UnsupportedSearchError",
    "compile_query",
]
