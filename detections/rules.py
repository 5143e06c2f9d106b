"""The rules: Sigma files, loaded and validated with pySigma, ready to evaluate.

The pack ships inside the package (``detections/pack/*.yml``); a user's own rules come from
``TRAILQL_RULES_DIR`` (every ``*.yml``/``*.yaml`` below it). Both are plain Sigma: logsource
``product: aws``, ``service: cloudtrail``, fields named as CloudTrail names them. Single-event
rules, and correlation rules (``event_count``, ``value_count``) over them, are Sigma's own;
what Sigma cannot say is a ``trailql:`` block beside the rule's other attributes, read by
:mod:`detections.extensions`. A rule that cannot be evaluated faithfully is refused at load,
with its file and the reason, rather than silently matching nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from sigma.collection import SigmaCollection
from sigma.correlations import SigmaCorrelationRule, SigmaCorrelationType
from sigma.exceptions import SigmaError
from sigma.rule import SigmaRule

from detections.conversion import Detection, UnsupportedRuleError, detection_of
from detections.extensions import Extensions, extensions_of
from detections.fields import mapped_field, mapped_name, trailql_pipeline
from detections.findings import RuleRef
from schema.paths import ACCOUNT_ID

SEVERITIES = ("informational", "low", "medium", "high", "critical")


class RuleError(ValueError):
    """A rule file that cannot be used; the message names the file and the problem."""


@dataclass(frozen=True)
class RuleInfo:
    """What a finding says of its rule, and what ``rules`` lists."""

    id: str
    name: str
    title: str
    description: str
    severity: str
    techniques: tuple[str, ...]
    tactics: tuple[str, ...]
    false_positives: tuple[str, ...]
    kind: str  # "event", "event_count", "value_count"
    source: str  # "pack" or the file it came from

    @property
    def ref(self) -> RuleRef:
        """What a finding records of the rule."""
        return RuleRef(self.id, self.name, self.title, self.severity, self.techniques)


@dataclass(frozen=True)
class EventRule:
    """A single-event rule: each matching event is a finding (or a candidate for one)."""

    info: RuleInfo
    detection: Detection
    extensions: Extensions


@dataclass(frozen=True)
class CorrelationRule:
    """A threshold over the events of base rules, per group and per window of ``seconds``."""

    info: RuleInfo
    bases: tuple[EventRule, ...]
    group_by: tuple[str, ...]  # mapped paths; the account always among them
    seconds: int
    operator: str  # gte, gt, lte, lt, eq
    count: int
    value_field: str | None  # value_count: the mapped path counted
    extensions: Extensions

    @property
    def query(self) -> dict[str, Any]:
        """Events of any base rule."""
        queries = [base.detection.query for base in self.bases]
        if len(queries) == 1:
            return queries[0]
        return {"bool": {"should": queries, "minimum_should_match": 1}}


Rule = EventRule | CorrelationRule


@dataclass(frozen=True)
class RulePack:
    """Every rule evaluated, in a stable order."""

    rules: tuple[Rule, ...] = field(default_factory=tuple)

    def by_id(self, rule_id: str) -> Rule | None:
        """A rule by its id or name."""
        return next((r for r in self.rules if rule_id in {r.info.id, r.info.name}), None)


def pack_files() -> list[tuple[str, str]]:
    """The shipped rule files: (name, text), in name order."""
    folder = resources.files("detections") / "pack"
    return sorted(
        (entry.name, entry.read_text(encoding="utf-8"))
        for entry in folder.iterdir()
        if entry.name.endswith(".yml")
    )


def folder_files(folder: Path) -> list[tuple[str, str]]:
    """A user's rule files below ``folder``: (path, text), in path order."""
    if not folder.is_dir():
        raise RuleError(f"TRAILQL_RULES_DIR {folder} is not a folder")
    paths = sorted(p for p in folder.rglob("*") if p.suffix in {".yml", ".yaml"} and p.is_file())
    return [(str(path), path.read_text(encoding="utf-8")) for path in paths]


def load_rules(  # noqa: C901  one pass per kind of rule, in order
    files: list[tuple[str, str]], *, include_pack: bool = True, rules_dir: Path | None = None
) -> RulePack:
    """The pack, ``files`` and the rules in ``rules_dir``; :class:`RuleError` on any problem."""
    named = [(name, text, "pack") for name, text in pack_files()] if include_pack else []
    named += [(name, text, name) for name, text in files]
    if rules_dir is not None:
        named += [(name, text, name) for name, text in folder_files(rules_dir)]
    parsed: list[tuple[SigmaRule | SigmaCorrelationRule, str, str]] = []
    for name, text, source in named:
        try:
            collection = SigmaCollection.from_yaml(text)
        except SigmaError as exc:
            raise RuleError(f"{name}: {exc}") from None
        except Exception as exc:  # noqa: BLE001  YAML parse errors come in many types
            raise RuleError(f"{name}: not a Sigma rule file ({exc})") from None
        parsed.extend((rule, name, source) for rule in collection.rules)
    collection = SigmaCollection([rule for rule, _, _ in parsed])
    where = {id(rule): (name, source) for rule, name, source in parsed}
    pipeline = trailql_pipeline()
    event_rules: dict[int, EventRule] = {}
    for rule, name, source in parsed:
        if isinstance(rule, SigmaRule):
            event_rules[id(rule)] = _event_rule(rule, name, source, pipeline)
    referenced = {
        id(reference.rule)
        for rule in collection.rules
        if isinstance(rule, SigmaCorrelationRule) and not rule.generate
        for reference in rule.rules or ()
    }
    rules: list[Rule] = []
    for rule, name, source in parsed:
        if isinstance(rule, SigmaCorrelationRule):
            rules.append(_correlation_rule(rule, name, source, event_rules, where))
        elif id(rule) not in referenced:
            rules.append(event_rules[id(rule)])
    ids = [r.info.id for r in rules] + [r.info.name for r in rules if r.info.name != r.info.id]
    twice = sorted({rule_id for rule_id in ids if ids.count(rule_id) > 1})
    if twice:
        raise RuleError(f"rule ids and names must be unique: {', '.join(twice)}")
    return RulePack(tuple(rules))


def _info(rule: SigmaRule | SigmaCorrelationRule, name: str, source: str, kind: str) -> RuleInfo:
    if rule.id is None:
        raise RuleError(f"{name}: the rule {rule.title!r} has no id")
    level = rule.level.name.lower() if rule.level is not None else "medium"
    tags = [str(tag) for tag in rule.tags]
    techniques = tuple(
        tag.split(".", 1)[1].upper()
        for tag in tags
        if tag.startswith("attack.t") and tag[8:9].isdigit()
    )
    tactics = tuple(
        tag.split(".", 1)[1]
        for tag in tags
        if tag.startswith("attack.") and tag[7:8].lower() not in {"t", "g", "s"}
    )
    return RuleInfo(
        id=str(rule.id),
        name=rule.name or str(rule.id),
        title=rule.title,
        description=rule.description or "",
        severity=level,
        techniques=techniques,
        tactics=tactics,
        false_positives=tuple(rule.falsepositives or ()),
        kind=kind,
        source=source,
    )


def _check_logsource(rule: SigmaRule, name: str) -> None:
    logsource = rule.logsource
    if logsource.product != "aws" or logsource.service != "cloudtrail":
        raise RuleError(
            f"{name}: the rule {rule.title!r} is not for CloudTrail (logsource product: aws, "
            "service: cloudtrail)"
        )


def _event_rule(rule: SigmaRule, name: str, source: str, pipeline: Any) -> EventRule:
    _check_logsource(rule, name)
    if rule.errors:
        raise RuleError(f"{name}: {rule.errors[0]}")
    try:
        pipeline.apply(rule)
        detection = detection_of(rule)
        extensions = extensions_of(rule.custom_attributes.get("trailql"))
    except (UnsupportedRuleError, SigmaError, ValueError) as exc:
        raise RuleError(f"{name}: rule {rule.title!r}: {exc}") from None
    if extensions.first_seen is not None and not detection.exact:
        raise RuleError(
            f"{name}: rule {rule.title!r}: first_seen needs a detection Elasticsearch can "
            "answer exactly (no |re, |cidr, comparisons or inner wildcards on parameters)"
        )
    return EventRule(_info(rule, name, source, "event"), detection, extensions)


_OPERATORS = {"gte", "gt", "lte", "lt", "eq"}


def _correlation_rule(  # noqa: C901  one check per part of the correlation
    rule: SigmaCorrelationRule,
    name: str,
    source: str,
    event_rules: dict[int, EventRule],
    where: dict[int, tuple[str, str]],
) -> CorrelationRule:
    kind = rule.type
    if kind not in {SigmaCorrelationType.EVENT_COUNT, SigmaCorrelationType.VALUE_COUNT}:
        raise RuleError(
            f"{name}: correlation {rule.title!r}: only event_count and value_count are supported"
        )
    bases: list[EventRule] = []
    for reference in rule.rules or ():
        base = event_rules.get(id(reference.rule))
        if base is None:
            raise RuleError(f"{name}: correlation {rule.title!r}: unknown rule {reference}")
        if not base.detection.exact or base.extensions.checks:
            base_file = where.get(id(reference.rule), (name, ""))[0]
            raise RuleError(
                f"{base_file}: rule {base.info.title!r} is counted by a correlation, so "
                "Elasticsearch must answer it exactly (no |re, |cidr, comparisons, inner "
                "wildcards on parameters, or checks)"
            )
        bases.append(base)
    condition = rule.condition
    operator = getattr(condition, "op", None)
    operator_name = operator.name.lower() if operator is not None else ""
    if operator_name not in _OPERATORS:
        raise RuleError(f"{name}: correlation {rule.title!r}: unsupported condition")
    group_by = [mapped_name(field_name) for field_name in rule.group_by or ()]
    value_field = None
    if kind is SigmaCorrelationType.VALUE_COUNT:
        fieldref = getattr(condition, "fieldref", None)
        if not isinstance(fieldref, str):
            raise RuleError(f"{name}: correlation {rule.title!r}: value_count needs one field")
        value_field = mapped_name(fieldref)
    try:
        for path in [*group_by, *([value_field] if value_field else [])]:
            mapped_field(path)
        extensions = extensions_of(rule.custom_attributes.get("trailql"))
    except ValueError as exc:
        raise RuleError(f"{name}: correlation {rule.title!r}: {exc}") from None
    if ACCOUNT_ID not in group_by:  # a finding belongs to one account, like its events
        group_by.append(ACCOUNT_ID)
    return CorrelationRule(
        info=_info(rule, name, source, kind.name.lower()),
        bases=tuple(bases),
        group_by=tuple(group_by),
        seconds=int(rule.timespan.seconds),
        operator=operator_name,
        count=int(condition.count),  # type: ignore[union-attr]
        value_field=value_field,
        extensions=extensions,
    )
