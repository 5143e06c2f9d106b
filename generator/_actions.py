"""What the generator knows of the CloudWatch Logs API: event sources, kinds of call, limits."""

from __future__ import annotations

from typing import Final

LOGS: Final = "logs.amazonaws.com"
MONITORING: Final = "monitoring.amazonaws.com"  # records GenerateQuery

READ_ACTIONS: Final = frozenset(
    {
        "DescribeLogGroups", "DescribeLogStreams", "GetLogEvents", "FilterLogEvents",
        "StartQuery", "GetQueryResults", "StartLiveTail", "ListTagsLogGroup",
        "ListTagsForResource", "GenerateQuery",
    }
)  # fmt: skip
DATA_ACTIONS: Final = frozenset({"GetLogEvents", "FilterLogEvents"})

RETENTION_DAYS: Final = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557,
    2922, 3288, 3653,
)  # fmt: skip
MAX_FILTERS: Final = 2  # CloudWatch Logs allows two subscription filters per log group
FILTER_PATTERNS: Final = (
    "", "ERROR", "?ERROR ?Exception ?Timeout", '{ $.level = "error" }', "{ $.statusCode >= 500 }",
    '"Task timed out"', "[ip, id, user, timestamp, request, status_code=5*, size]",
    '{ $.eventType = "payment_failed" }', "WARN",
)  # fmt: skip
