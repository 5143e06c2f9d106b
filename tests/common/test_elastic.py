from common.elastic import Connection, sync_client


def test_bulk_bodies_already_written_are_sent_as_they_are():
    client = sync_client(Connection(url="http://127.0.0.1:1"))
    serializers = client.transport.serializers
    body = b'{"create":{"_index":"i","_id":"1"}}\n{"a":1}\n'
    for mimetype in ("application/x-ndjson", "application/vnd.elasticsearch+x-ndjson"):
        assert serializers.dumps(body, mimetype) is body
    # Anything else is still written as NDJSON: one JSON value a line.
    lines = [{"index": {"_index": "i"}}, {"a": 1}]
    assert (
        serializers.dumps(lines, "application/x-ndjson") == b'{"index":{"_index":"i"}}\n{"a":1}\n'
    )
    assert serializers.dumps(b'{"a":1}', "application/x-ndjson") == b'{"a":1}\n'
    client.close()
