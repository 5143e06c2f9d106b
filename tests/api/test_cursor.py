import pytest

from api.cursor import InvalidCursorError, decode_cursor, encode_cursor


def test_a_cursor_round_trips():
    assert decode_cursor(encode_cursor([1688990875000, "fd59f1b4"])) == [1688990875000, "fd59f1b4"]


@pytest.mark.parametrize("cursor", ["", "garbage", "bm9wZQ", encode_cursor(["x", "y"]), "é"])
def test_cursors_not_issued_here_are_refused(cursor):
    with pytest.raises(InvalidCursorError):
        decode_cursor(cursor)
