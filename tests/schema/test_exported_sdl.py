from pathlib import Path

from api.schema import sdl

EXPORTED = Path(__file__).resolve().parents[2] / "schema" / "schema.graphql"


def test_the_exported_schema_matches_the_code():
    assert EXPORTED.read_text(encoding="utf-8") == sdl(), (
        "schema/schema.graphql is stale: run `trailql schema > schema/schema.graphql`"
    )


def test_every_event_field_of_the_table_is_in_the_schema():
    from schema import EVENT_FIELDS  # noqa: PLC0415

    event_type = sdl().split("type Event {", 1)[1].split("\n}", 1)[0]
    for field in EVENT_FIELDS:
        assert f"  {field.name}: " in event_type
