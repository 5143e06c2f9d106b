"""Loading rules: every shipped rule is whole; a rule that cannot be evaluated faithfully is
refused with its file and the reason; conversion compares as Sigma says."""

from __future__ import annotations

import pytest

from detections import RuleError, load_rules
from detections.conversion import Detection
from detections.extensions import policy_principals
from detections.rules import EventRule

HEAD = """title: t
id: 5b9a3d1e-0000-4000-8000-000000000001
logsource: {product: aws, service: cloudtrail}
"""


def _load(text: str) -> list[EventRule]:
    rules = load_rules([("mine.yml", text)], include_pack=False).rules
    assert all(isinstance(rule, EventRule) for rule in rules)
    return list(rules)  # type: ignore[arg-type]


def test_every_shipped_rule_has_id_title_description_severity_technique_and_false_positives():
    for rule in load_rules([]).rules:
        info = rule.info
        assert info.id, info.name
        assert info.title, info.name
        assert info.description, info.name
        assert info.severity in {"low", "medium", "high", "critical"}, info.name
        assert info.techniques, info.name
        assert info.false_positives, info.name


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("title: [unclosed", "not a Sigma rule file"),
        (HEAD.replace("cloudtrail}", "sysmon}") + "detection: {s: {a: b}, condition: s}",
         "is not for CloudTrail"),
        (HEAD + "detection: {s: {nosuchfield: x}, condition: s}", "is not indexed"),
        (HEAD + "detection: {s: [DeleteLogGroup], condition: s}", "keyword searches"),
        (HEAD + "detection: {s: {eventName: x}, condition: s}\ntrailql: {surprise: 1}",
         "unknown trailql extension"),
        (HEAD + "detection: {s: {eventName: x}, condition: s}\ntrailql: {first_seen: {days: 0}}",
         "1 to 366"),
        (HEAD + "detection: {s: {eventName: x}, condition: s}\ntrailql: {checks: [nope]}",
         "trailql.checks"),
        (HEAD + "detection: {s: {eventName|fieldref: eventSource}, condition: s}",
         "not supported"),
        (HEAD.replace("id: 5b9a3d1e-0000-4000-8000-000000000001\n", "")
         + "detection: {s: {eventName: x}, condition: s}", "has no id"),
    ],
)  # fmt: skip
def test_a_rule_that_cannot_be_evaluated_faithfully_is_refused_with_its_file(text, message):
    with pytest.raises(RuleError, match=message) as refused:
        _load(text)
    assert str(refused.value).startswith("mine.yml")


def test_a_correlation_over_a_rule_elasticsearch_cannot_answer_exactly_is_refused():
    text = HEAD.replace("title: t", "title: base\nname: base") + (
        "detection: {s: {requestParameters.logGroupName|contains: secret}, condition: s}\n"
        "---\ntitle: burst\nid: 5b9a3d1e-0000-4000-8000-000000000002\n"
        "correlation: {type: event_count, rules: [base], group-by: [principal], "
        "timespan: 5m, condition: {gte: 3}}\n"
    )
    with pytest.raises(RuleError, match="must answer it exactly"):
        load_rules([("mine.yml", text)], include_pack=False)


def _detection(selection: str) -> Detection:
    [rule] = _load(HEAD + f"detection:\n  s:\n{selection}\n  condition: s\n")
    return rule.detection


def test_strings_compare_without_case_unless_cased():
    plain = _detection("    eventName: deleteloggroup")
    assert plain.exact
    assert plain.matches({"eventName": "DeleteLogGroup"})
    cased = _detection("    eventName|cased: deleteloggroup")
    assert not cased.matches({"eventName": "DeleteLogGroup"})
    assert cased.query["term"]["eventName"]["case_insensitive"] is False


def test_inner_wildcards_on_parameters_are_checked_exactly_on_each_candidate():
    contains = _detection("    requestParameters.logGroupName|contains: Secret")
    assert not contains.exact
    assert contains.query == {"exists": {"field": "trailql.requestParameters.logGroupName"}}
    assert contains.matches({"requestParameters": {"logGroupName": "/app/top-secret/x"}})
    assert not contains.matches({"requestParameters": {"logGroupName": "/app/public"}})
    prefix = _detection("    requestParameters.logGroupName|startswith: /app/")
    assert prefix.exact
    assert "prefix" in prefix.query


def test_comparisons_read_numbers_written_as_text_and_lists_of_objects():
    below = _detection("    requestParameters.retentionInDays|lt: 7")
    assert below.matches({"requestParameters": {"retentionInDays": "3"}})
    assert not below.matches({"requestParameters": {"retentionInDays": 14}})
    nested = _detection("    requestParameters.eventSelectors.includeManagementEvents: false")
    assert nested.matches(
        {"requestParameters": {"eventSelectors": [{"includeManagementEvents": False}]}}
    )


def test_a_policy_is_read_from_its_json_text_and_nonsense_allows_nobody():
    text = '{"Statement": [{"Effect": "Allow", "Principal": {"AWS": ["*", "123456789012"]}}]}'
    assert policy_principals(text) == ["*", "123456789012"]
    assert policy_principals('{"Statement": "nope"}') == []
    assert policy_principals("not json {") == []
    assert policy_principals("[" * 10_000) == []
