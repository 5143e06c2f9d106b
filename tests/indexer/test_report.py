"""What the continuous loaders print: JSON lines off a terminal, a progress bar on one."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime

from rich.console import Console

from indexer.report import JsonLinesReport, ProgressReport


def test_json_lines_carry_time_level_message_and_fields():
    stream = io.StringIO()
    report = JsonLinesReport(stream)
    before = datetime.now(UTC).replace(microsecond=0)  # lines give milliseconds
    report.file_done("s3://b/k.json.gz", outcome="loaded", events=7, indexed=6, already_present=1)
    report.file_done("s3://b/x.json.gz", outcome="failed", events=0, error="NoSuchKey")
    report.file_done("s3://b/y.json.gz", outcome="already loaded", events=0)  # debug: not shown
    report.log("debug", "not shown either")
    report.log("warning", "Elasticsearch is unavailable", error="refused")
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [{k: v for k, v in line.items() if k != "time"} for line in lines] == [
        {
            "level": "info",
            "message": "file loaded",
            "file": "s3://b/k.json.gz",
            "outcome": "loaded",
            "events": 7,
            "indexed": 6,
            "already_present": 1,
        },
        {
            "level": "error",
            "message": "file failed",
            "file": "s3://b/x.json.gz",
            "outcome": "failed",
            "events": 0,
            "error": "NoSuchKey",
        },
        {"level": "warning", "message": "Elasticsearch is unavailable", "error": "refused"},
    ]
    assert all(
        before <= datetime.fromisoformat(line["time"]) <= datetime.now(UTC) for line in lines
    )


def test_the_progress_bar_counts_files_and_events_and_prints_problems():
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=150, color_system=None)
    with ProgressReport(console, title="SQS") as report:
        report.remaining(9)
        for number in range(3):
            report.file_done(f"s3://b/f{number}.json.gz", outcome="loaded", events=100)
        report.file_done("s3://b/missing.json.gz", outcome="failed", events=0, error="NoSuchKey")
        report.log("info", "not printed")
        report.log("warning", "Elasticsearch is unavailable", error="refused")
    text = out.getvalue()
    final = text.rsplit("\r", 1)[-1]
    assert "4/9 files" in final  # nine waiting when the count began
    assert "300 events" in final
    assert "error file failed file=s3://b/missing.json.gz error=NoSuchKey" in text
    assert "warning Elasticsearch is unavailable error=refused" in text
    assert "not printed" not in text
