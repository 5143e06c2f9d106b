"""The in-process matcher and Elasticsearch agree exactly, filter by filter.

A live subscription matches new events in-process (``api.matching``) against the very query
``api.filters`` sends Elasticsearch for queries. Each filter case the query tests use (the
samples' and the generated data's), and more that press on each kind of field, is asked of
Elasticsearch through the API and of the matcher over the records as the files hold them:
the same eventIDs, every time.
"""

from __future__ import annotations

from typing import Any

import pytest
from elasticsearch import Elasticsearch
from graphql import GraphQLInputObjectType
from graphql.utilities import coerce_input_value
from strawberry.types.arguments import convert_argument

from api.analysis import tokens
from api.filters import EventFilter, filter_query
from api.limits import Limits
from api.matching import IndexedEvent, UnsupportedSearchError, compile_query
from api.schema import schema
from api.tenancy import Tenant
from schema import derived_fields
from tests.api.credentials import SIGMA, STRATUS
from tests.api.test_filters import CASES, GENERATED_CASES, matching_ids

Record = dict[str, Any]


def event_filter(value: dict[str, Any]) -> EventFilter:
    """A filter as GraphQL would hand it to a resolver: coerced, then converted."""
    input_type = schema._schema.type_map["EventFilter"]
    assert isinstance(input_type, GraphQLInputObjectType)
    coerced = coerce_input_value(value, input_type)
    converted = convert_argument(
        coerced, EventFilter, schema.schema_converter.scalar_registry, schema.config
    )
    assert isinstance(converted, EventFilter)
    return converted


def matched(
    events: list[IndexedEvent], value: dict[str, Any], tenant: Tenant | None = None
) -> set[str]:
    query = filter_query(event_filter(value), Limits())
    predicate = compile_query(tenant.restrict(query) if tenant else query)
    return {event.record["eventID"] for event in events if predicate(event)}


@pytest.fixture(scope="module")
def sample_events(sample_records) -> list[IndexedEvent]:
    return [IndexedEvent.as_stored(record) for record in sample_records]


#: Beyond the query tests' cases: each operator of ``search``, patterns with wildcard
#: characters, ranges, parameter values of every JSON type, times between milliseconds.
EXTRA_CASES: list[tuple[str, dict[str, Any]]] = [
    ("search a dotted name", {"search": "logs.amazonaws.com"}),
    ("search words and a negation", {"search": "stratus -kms"}),
    ("search or", {"search": "stratus | kms"}),
    ("search a prefix", {"search": "strat*"}),
    ("search a prefix with a colon", {"search": "arn:aws:iam*"}),
    ("search groups", {"search": "(iam | kms) +stratus"}),
    ("search a negation alone", {"search": "-ec2"}),
    ("search a hyphenated chunk", {"search": "us-east-1"}),
    ("search a quoted hyphenated phrase", {"search": '"us-east-1"'}),
    ("search any case", {"search": "ACCESSDENIED"}),
    ("search everything", {"search": "*"}),
    ("search no word", {"search": "!!! --- ..."}),
    ("search an unclosed phrase", {"search": '"unclosed phrase'}),
    ("search an unclosed group", {"search": "(unclosed | group"}),
    ("search escapes", {"search": "a\\-b \\(x\\)"}),
    ("search a phrase then or", {"search": '"vpc flow" | logs'}),
    ("search slop zero", {"search": '"flow logs"~0'}),
    ("search or then and", {"search": "kms | iam +stratus"}),
    ("search a double negation", {"search": "--ec2"}),
    ("userAgent with a question mark and a star", {"userAgent": "?*"}),
    ("userAgent with a backslash", {"userAgent": "\\"}),
    ("userAgent of other letters", {"userAgent": "AWS-INTERNAL"}),
    ("every IPv6 address", {"sourceIPAddress": ["::/0"]}),
    ("every IPv4 address as IPv4-mapped IPv6", {"sourceIPAddress": ["::ffff:0:0/96"]}),
    ("an IPv4-mapped IPv6 address", {"sourceIPAddress": ["::ffff:192.168.10.20"]}),
    (
        "a range between milliseconds",
        {"from": "2023-07-10T12:10:00.0005Z", "to": "2023-07-10T12:20:00.9999Z"},
    ),
    ("a range with a zone", {"from": "2023-07-10T14:10:00+02:00"}),
    ("principal of a service", {"principal": ["ec2.amazonaws.com", "root"]}),
    (
        "a parameter prefix of nothing special",
        {"requestParameters": [{"path": "logGroupName", "prefix": "/"}]},
    ),
    (
        "a parameter that is an object",
        {"requestParameters": [{"path": "tagSpecificationSet", "exists": True}]},
    ),
    (
        "a response element that exists",
        {"responseElements": [{"path": "credentials.accessKeyId", "exists": True}]},
    ),
    (
        "a boolean parameter as true",
        {"requestParameters": [{"path": "amazonProvidedIpv6CidrBlock", "equals": "true"}]},
    ),
    ("errorCode empty list", {"errorCode": []}),
    ("not of not", {"not": {"not": {"readOnly": True}}}),
    ("an empty filter", {}),
]


@pytest.mark.parametrize(
    "value",
    [case[1] for case in CASES] + [case[1] for case in EXTRA_CASES],
    ids=[case[0] for case in CASES] + [case[0] for case in EXTRA_CASES],
)
def test_the_matcher_agrees_with_elasticsearch_on_the_samples(
    samples_api, run_graphql, sample_events, value
):
    _, expected = matching_ids(samples_api, run_graphql, value)
    assert matched(sample_events, value) == expected


def test_the_extra_cases_are_not_all_trivial(sample_events):
    sizes = [len(matched(sample_events, value)) for _, value in EXTRA_CASES]
    assert sum(0 < size < len(sample_events) for size in sizes) >= len(EXTRA_CASES) // 2


@pytest.mark.parametrize(
    "accounts", [frozenset({SIGMA}), frozenset(STRATUS)], ids=["sigma", "stratus"]
)
def test_the_tenant_confinement_matches_as_in_elasticsearch(
    es: Elasticsearch, samples_alias, sample_events, accounts
):
    tenant = Tenant(name="t", accounts=accounts)
    value = {"readOnly": False}
    query = tenant.restrict(filter_query(event_filter(value), Limits()))
    response = es.search(
        index=samples_alias[0], query=query, size=5_000, source={"includes": ["eventID"]}
    )
    expected = {hit["_source"]["eventID"] for hit in response["hits"]["hits"]}
    assert expected
    assert matched(sample_events, value, tenant) == expected


@pytest.fixture(scope="module")
def generated(generated_api):
    data = generated_api(events=3000, seed=21)
    return data.client, [IndexedEvent.as_stored(record) for record in data.records]


@pytest.mark.parametrize(
    "value", [case[1] for case in GENERATED_CASES], ids=[case[0] for case in GENERATED_CASES]
)
def test_the_matcher_agrees_with_elasticsearch_on_generated_data(generated, run_graphql, value):
    client, events = generated
    _, expected = matching_ids(client, run_graphql, value)
    assert matched(events, value) == expected


@pytest.mark.parametrize("search", ["logs~1", "logs~", '"flow logs"~2'])
def test_fuzzy_words_and_phrase_slop_are_refused_not_guessed(search):
    with pytest.raises(UnsupportedSearchError):
        matched([], {"search": search})


#: Texts that press on the standard tokenizer: every script kind, marks, long words, joins.
HOSTILE_TEXTS = [
    "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/foo:*",
    "1.2.3 1,000 1'2 a'b a's a..b a.b. _x_ __ a_b",
    "中文字 ひらがな カタカナ ﾊﾝｶｸ 한국어 ไทยภาษา русский العربية",
    "😀👍🏽 👨\u200d👩\u200d👧 🇫🇷🇩🇪 1️⃣ ©",
    "İstanbul ΣΑΣ Straße ǅemal ﬁle x\u2019s a\u00b7b 1\u066c2 Ⅻ ²³ ½",
    "é\u0301x ab\u00adcd a\u200db " + "a" + "\u0301" * 300,
    "x" * 600 + " " + "x" * 254 + ".ab " + "x" * 250 + ".abcdefghij " + "1" * 254 + ",23",
    "ab" * 130 + ".cd " + "x" * 253 + "\u00e9\u0301ab " + "x" * 254 + "\U0001f600a",
    '"quoted" a"b <tag> {json: [1, 2]} tab\there new\nline',
]


def _analyzed(es: Elasticsearch, texts: list[str]) -> list[list[str]]:
    """Elasticsearch's standard analyzer over each text, many texts per request."""
    marker = "qqtrailqlsplitmarkerqq"
    batches: list[list[str]] = [[]]
    for text in texts:  # Elasticsearch answers up to 10,000 words per request
        if sum(map(len, batches[-1])) + len(text) > 20_000:
            batches.append([])
        batches[-1].append(text)
    found: list[list[str]] = []
    for batch in batches:
        answer = es.indices.analyze(analyzer="standard", text=f"\n{marker}\n".join(batch))
        words: list[list[str]] = [[]]
        for token in answer["tokens"]:
            if token["token"] == marker:
                words.append([])
            else:
                words[-1].append(token["token"])
        assert len(words) == len(batch)
        found.extend(words)
    return found


def test_the_words_of_every_sample_and_of_hostile_texts_are_elasticsearchs(
    es: Elasticsearch, sample_records
):
    texts = sorted({derived_fields(record)["text"] for record in sample_records}) + HOSTILE_TEXTS
    assert [tokens(text) for text in texts] == _analyzed(es, texts)
