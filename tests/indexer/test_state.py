"""The state index: a name outside the events template, a mapping of its own, ETag-aware."""

from __future__ import annotations

import fnmatch

from common.indices import state_index
from indexer.indices import install_template
from indexer.notifications import S3Object
from indexer.state import LoadedFile, StateIndex, state_mapping
from schema import index_template


def test_the_state_index_is_outside_the_events_template(es, stateful_alias):
    alias = stateful_alias
    install_template(es, alias)
    name = state_index(alias)
    assert not any(fnmatch.fnmatch(name, p) for p in index_template(alias)["index_patterns"])

    state = StateIndex(es, alias)
    state.ensure()
    state.ensure()  # a second worker starting: no error
    mapping = es.indices.get_mapping(index=name)[name]["mappings"]
    assert mapping == state_mapping()
    assert es.indices.get(index=name)[name]["aliases"] == {}  # the template would add the alias


def test_a_file_is_loaded_for_its_etag(es, stateful_alias):
    state = StateIndex(es, stateful_alias)
    state.ensure()
    done = S3Object("bucket", "AWSLogs/a.json.gz", etag="aaa")
    state.record([LoadedFile(done, '"aaa"', 1234, 10, 9, 1, 0)])

    same = S3Object("bucket", "AWSLogs/a.json.gz", etag="aaa")
    unknown = S3Object("bucket", "AWSLogs/a.json.gz")  # CloudTrail's notifications say none
    rewritten = S3Object("bucket", "AWSLogs/a.json.gz", etag="bbb")
    other = S3Object("bucket", "AWSLogs/b.json.gz", etag="aaa")
    assert state.loaded([same, unknown, rewritten, other]) == {done.uri}
    assert state.loaded([rewritten]) == set()

    es.indices.refresh(index=state.name)
    [hit] = es.search(index=state.name)["hits"]["hits"]
    source = hit["_source"]
    assert {k: source[k] for k in ("object", "etag", "size", "records", "indexed")} == {
        "object": "s3://bucket/AWSLogs/a.json.gz",
        "etag": "aaa",
        "size": 1234,
        "records": 10,
        "indexed": 9,
    }
