"""Months as ``trailql indices`` reads them, and what its arguments refuse before any request."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from indexer.lifecycle import Month
from trailql.cli import main


def test_months_parse_and_order_as_the_calendar_does():
    assert Month.parse("2024-07") == Month(2024, 7)
    assert str(Month.parse(" 0999-01 ")) == "0999-01"
    assert Month(2023, 12) < Month(2024, 1) < Month(2024, 2)
    assert Month.current(datetime(2026, 12, 31, 23, 59, tzinfo=UTC)) == Month(2026, 12)


@pytest.mark.parametrize(
    "text", ["2024-13", "2024-00", "2024-7", "24-07", "2024/07", "2024-07-01", "", "x" * 10_000]
)
def test_what_is_not_a_month_is_refused(text, capsys):
    with pytest.raises(ValueError, match="is not a month"):
        Month.parse(text)
    with pytest.raises(SystemExit) as refused:
        main(["indices", "optimize", "--before", text])
    assert refused.value.code == 2
    assert "is not a month (YYYY-MM)" in capsys.readouterr().err


def test_delete_asks_for_a_dry_run_or_a_yes(capsys):
    with pytest.raises(SystemExit) as refused:
        main(["indices", "delete", "--before", "2024-01"])
    assert refused.value.code == 2
    assert "one of the arguments --dry-run --yes is required" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["indices", "delete", "--before", "2024-01", "--dry-run", "--yes"])
    assert "not allowed with argument" in capsys.readouterr().err
