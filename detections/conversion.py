"""A Sigma detection as an Elasticsearch query, plus the exact check where the query cannot be.

pySigma parses and validates the rule and applies the TrailQL pipeline; this module turns the
condition tree it yields into Elasticsearch's query DSL. Why not pysigma-backend-elasticsearch:
its Lucene backend writes ``query_string`` text, which Elasticsearch refuses for wildcards on
the flattened parameter copies ("wildcard queries are not currently supported on keyed
flattened fields"), compares case-sensitively where Sigma compares without case, and its
correlations are ES|QL, which the server-only distribution TrailQL runs on does not have.

Strings compare without case (``case_insensitive`` term, prefix and wildcard queries) unless
the rule says ``|cased``. What a flattened field cannot answer in Elasticsearch (a wildcard
other than a trailing one, ``|re``, ``|cidr``, ``|lt`` and the other comparisons, which would
compare text) is answered by :meth:`Detection.matches` on each candidate the query finds: the
query stands in for such a condition with ``exists`` (or, under a NOT, with nothing), so it
finds a superset, and the check narrows it to exactly what the rule says.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionItem,
    ConditionNOT,
    ConditionOR,
    ConditionValueExpression,
)
from sigma.rule import SigmaRule
from sigma.types import (
    CompareOperators,
    SigmaBool,
    SigmaCasedString,
    SigmaCIDRExpression,
    SigmaCompareExpression,
    SigmaExists,
    SigmaExpansion,
    SigmaNull,
    SigmaNumber,
    SigmaRegularExpression,
    SigmaRegularExpressionFlag,
    SigmaString,
    SpecialChars,
)

from detections.fields import FieldKind, MappedField, mapped_field, record_values
from schema.paths import SOURCE_IP

_MATCH_NONE: dict[str, Any] = {"match_none": {}}
Record = dict[str, Any]
Check = Callable[[Record], bool]


class UnsupportedRuleError(ValueError):
    """A rule this converter cannot evaluate faithfully; the message says which part."""


@dataclass(frozen=True)
class Detection:
    """A rule's detection: the query that finds candidates, and whether each needs a check."""

    query: dict[str, Any]
    #: True when the query alone is the rule; False when candidates go through ``matches``.
    exact: bool
    check: Check

    def matches(self, record: Record) -> bool:
        """Whether a stored record matches the rule's detection, exactly."""
        return self.check(record)


def detection_of(rule: SigmaRule) -> Detection:
    """The query and check of a rule the TrailQL pipeline has been applied to."""
    parsed = [condition.parsed for condition in rule.detection.parsed_condition]
    parts = [_convert(node, positive=True) for node in parsed]
    if len(parts) == 1:
        query, exact, check = parts[0]
    else:  # several conditions: any of them
        query = {"bool": {"should": [part[0] for part in parts], "minimum_should_match": 1}}
        exact = all(part[1] for part in parts)
        checks = [part[2] for part in parts]

        def check(record: Record) -> bool:
            return any(each(record) for each in checks)

    return Detection(query, exact, check)


_Converted = tuple[dict[str, Any], bool, Check]


def _convert(node: Any, *, positive: bool) -> _Converted:
    if isinstance(node, ConditionAND | ConditionOR):
        parts = [_convert(arg, positive=positive) for arg in node.args]
        exact = all(part[1] for part in parts)
        checks = [part[2] for part in parts]
        if isinstance(node, ConditionAND):
            both: dict[str, Any] = {"bool": {"filter": [part[0] for part in parts]}}
            return both, exact, lambda record: all(each(record) for each in checks)
        either: dict[str, Any] = {
            "bool": {"should": [part[0] for part in parts], "minimum_should_match": 1}
        }
        return either, exact, lambda record: any(each(record) for each in checks)
    if isinstance(node, ConditionNOT):
        inner, exact, check = _convert(node.args[0], positive=not positive)
        return {"bool": {"must_not": [inner]}}, exact, lambda record: not check(record)
    if isinstance(node, ConditionFieldEqualsValueExpression):
        return _leaf(node.field, node.value, positive=positive)
    if isinstance(node, ConditionValueExpression):
        raise UnsupportedRuleError(
            "keyword searches (values not bound to a field) are not supported: name the field"
        )
    if isinstance(node, ConditionItem):  # pragma: no cover  every kind is handled above
        raise UnsupportedRuleError(f"unsupported condition {type(node).__name__}")
    raise UnsupportedRuleError(f"unsupported condition {node!r}")


def _leaf(field: str, value: Any, *, positive: bool) -> _Converted:
    if isinstance(value, SigmaExpansion):
        parts = [_leaf(field, each, positive=positive) for each in value.values]
        query = {"bool": {"should": [part[0] for part in parts], "minimum_should_match": 1}}
        checks = [part[2] for part in parts]
        exact = all(part[1] for part in parts)
        return query, exact, lambda record: any(each(record) for each in checks)
    try:
        target = mapped_field(field)
    except ValueError as exc:
        raise UnsupportedRuleError(str(exc)) from None
    if isinstance(value, SigmaCIDRExpression) and field == "sourceIPAddress":
        target = MappedField(SOURCE_IP, FieldKind.IP)  # the address as an ip field
    check = _check(target.path, value)
    exact_query = _query(target, value)
    if exact_query is not None:
        return exact_query, True, check
    # Elasticsearch cannot say it here: a superset now, the exact check afterwards.
    stand_in: dict[str, Any] = {"exists": {"field": target.path}} if positive else _MATCH_NONE
    return stand_in, False, check


def _query(target: MappedField, value: Any) -> dict[str, Any] | None:  # noqa: PLR0911  one branch per Sigma type
    path, kind = target.path, target.kind
    if isinstance(value, SigmaNull):
        return {"bool": {"must_not": [{"exists": {"field": path}}]}}
    if isinstance(value, SigmaExists):
        exists = {"exists": {"field": path}}
        return exists if value.exists else {"bool": {"must_not": [exists]}}
    if isinstance(value, SigmaBool):
        text = "true" if value.boolean else "false"
        return {"term": {path: value.boolean if kind is FieldKind.BOOLEAN else text}}
    if isinstance(value, SigmaNumber):
        if kind in {FieldKind.KEYWORD, FieldKind.FLATTENED}:
            return {"term": {path: str(value.number)}}
        return None
    if isinstance(value, SigmaCIDRExpression):
        return {"term": {path: value.cidr}} if kind is FieldKind.IP else None
    if isinstance(value, SigmaString):
        return _string_query(target, value)
    if isinstance(value, SigmaRegularExpression | SigmaCompareExpression):
        return None
    raise UnsupportedRuleError(f"values of type {type(value).__name__} are not supported")


def _string_query(target: MappedField, value: SigmaString) -> dict[str, Any] | None:
    path, kind = target.path, target.kind
    insensitive = not isinstance(value, SigmaCasedString)
    parts = value.s
    if kind is FieldKind.BOOLEAN:
        plain = value.to_plain().lower()
        return {"term": {path: plain == "true"}} if plain in {"true", "false"} else _MATCH_NONE
    if kind not in {FieldKind.KEYWORD, FieldKind.FLATTENED}:
        return None
    if not value.contains_special():
        return {"term": {path: {"value": value.to_plain(), "case_insensitive": insensitive}}}
    head = parts[:-1]
    if parts[-1] is SpecialChars.WILDCARD_MULTI and all(isinstance(p, str) for p in head):
        prefix = "".join(str(p) for p in head)
        return {"prefix": {path: {"value": prefix, "case_insensitive": insensitive}}}
    if kind is FieldKind.FLATTENED:
        return None  # Elasticsearch refuses wildcards on flattened fields
    pattern = "".join(_wildcard_part(part) for part in parts)
    return {"wildcard": {path: {"value": pattern, "case_insensitive": insensitive}}}


def _wildcard_part(part: object) -> str:
    if part is SpecialChars.WILDCARD_MULTI:
        return "*"
    if part is SpecialChars.WILDCARD_SINGLE:
        return "?"
    return re.sub(r"([\\*?])", r"\\\1", str(part))


def _check(path: str, value: Any) -> Check:  # noqa: C901, PLR0911  one branch per Sigma type
    if isinstance(value, SigmaNull):
        return lambda record: not record_values(record, path)
    if isinstance(value, SigmaExists):
        wanted = value.exists
        return lambda record: bool(record_values(record, path)) is wanted
    if isinstance(value, SigmaBool):
        text = "true" if value.boolean else "false"
        return lambda record: any(
            _text(item).lower() == text for item in record_values(record, path)
        )
    if isinstance(value, SigmaNumber):
        number = str(value.number)
        return lambda record: any(_text(item) == number for item in record_values(record, path))
    if isinstance(value, SigmaString):
        flags = 0 if isinstance(value, SigmaCasedString) else re.IGNORECASE
        pattern = re.compile("".join(_regex_part(part) for part in value.s), flags | re.DOTALL)
        return lambda record: any(
            pattern.fullmatch(_text(item)) for item in record_values(record, path)
        )
    if isinstance(value, SigmaRegularExpression):
        flags = 0
        for flag in value.flags:
            flags |= SigmaRegularExpression.sigma_to_python_flags[flag]
        if SigmaRegularExpressionFlag.IGNORECASE in value.flags:
            flags |= re.IGNORECASE
        regex = re.compile(str(value.regexp), flags)
        return lambda record: any(regex.search(_text(item)) for item in record_values(record, path))
    if isinstance(value, SigmaCIDRExpression):
        network = value.network
        return lambda record: any(
            _in_network(item, network) for item in record_values(record, path)
        )
    if isinstance(value, SigmaCompareExpression):
        return _compare(path, value)
    raise UnsupportedRuleError(f"values of type {type(value).__name__} are not supported")


def _compare(path: str, value: SigmaCompareExpression) -> Check:
    bound = float(value.number.number)
    test: Callable[[float], bool] = {
        CompareOperators.LT: lambda x: x < bound,
        CompareOperators.LTE: lambda x: x <= bound,
        CompareOperators.GT: lambda x: x > bound,
        CompareOperators.GTE: lambda x: x >= bound,
        CompareOperators.NEQ: lambda x: x != bound,
    }[value.op]

    def check(record: Record) -> bool:
        for item in record_values(record, path):
            number = as_number(item)
            if number is not None and test(number):
                return True
        return False

    return check


def as_number(value: object) -> float | None:
    """A number, or text that is one (CloudTrail records some numbers as strings)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _regex_part(part: object) -> str:
    if part is SpecialChars.WILDCARD_MULTI:
        return ".*"
    if part is SpecialChars.WILDCARD_SINGLE:
        return "."
    return re.escape(str(part))


def _text(value: object) -> str:
    """A value as the flattened and keyword fields index it: booleans as true/false."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return ""
    return str(value)


def _in_network(value: object, network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> bool:
    try:
        return ipaddress.ip_address(str(value)) in network
    except ValueError:
        return False
