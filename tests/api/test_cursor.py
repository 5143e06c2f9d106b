import pytest

from api.cursor import InvalidCursorError, decode_cursor, encode_cursor


def test_a_cursor_round_trips():
    cursor = encode_cursor("desc", [1688990875000, "fd59f1b4"])
    assert decode_cursor(cursor, "desc") == [1688990875000, "fd59f1b4"]


def test_a_cursor_of_the_other_order_is_refused():
    with pytest.raises(InvalidCursorError, match="other order"):
        decode_cursor(encode_cursor("asc", [1, "a"]), "desc")


@pytest.mark.parametrize(
    "cursor", ["", "garbage", "bm9wZQ", encode_cursor("desc", ["x", "y"]), "é", "W10"]
)
def test_cursors_not_issued_here_are_refused(cursor):
    with pytest.raises(InvalidCursorError, match="not a cursor issued by this API"):
        decode_cursor(cursor, "desc")
