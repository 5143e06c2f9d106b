import pytest

from api.pagination import EVENT_POSITION, InvalidCursorError, decode_cursor, encode_cursor


def test_a_cursor_round_trips():
    cursor = encode_cursor("desc", [1688990875000, "fd59f1b4"])
    assert decode_cursor(cursor, "desc", EVENT_POSITION) == [1688990875000, "fd59f1b4"]
    group = encode_cursor("logGroup", ["/aws/lambda/x"])
    assert decode_cursor(group, "logGroup", (str,)) == ["/aws/lambda/x"]


def test_a_cursor_for_another_order_or_list_is_refused():
    with pytest.raises(InvalidCursorError, match="another list or order"):
        decode_cursor(encode_cursor("asc", [1, "a"]), "desc", EVENT_POSITION)
    with pytest.raises(InvalidCursorError, match="another list or order"):
        decode_cursor(encode_cursor("logGroup", ["x"]), "desc", (str,))


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "garbage",
        "bm9wZQ",
        encode_cursor("desc", ["x", "y"]),
        encode_cursor("desc", [True, "y"]),
        encode_cursor("desc", [1]),
        "é",
        "W10",
    ],
)
def test_anything_else_is_not_a_cursor(cursor):
    with pytest.raises(InvalidCursorError, match="not a cursor issued by this API"):
        decode_cursor(cursor, "desc", EVENT_POSITION)
