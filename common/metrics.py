"""Prometheus metrics of every part, defined once so the API and the indexer agree on names.

The API serves them on ``/metrics``; an indexer worker serves its own with
``--metrics-port``. Names follow Prometheus conventions: ``_total`` counters, ``_seconds``.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

GRAPHQL_REQUESTS = Counter(
    "trailql_graphql_requests_total", "GraphQL requests answered, by operation name.", ["operation"]
)
GRAPHQL_REQUEST_SECONDS = Histogram(
    "trailql_graphql_request_seconds",
    "Time to answer a GraphQL request, by operation name.",
    ["operation"],
    buckets=_LATENCY_BUCKETS,
)
GRAPHQL_ERRORS = Counter(
    "trailql_graphql_errors_total", "GraphQL errors returned, by extensions.code.", ["code"]
)
ELASTICSEARCH_REQUEST_SECONDS = Histogram(
    "trailql_elasticsearch_request_seconds",
    "Time of Elasticsearch requests, by kind (search, bulk, ...).",
    ["kind"],
    buckets=_LATENCY_BUCKETS,
)
INDEXER_EVENTS = Counter(
    "trailql_indexer_events_total",
    "Records handled by the indexer, by outcome (indexed, already_present, rejected).",
    ["outcome"],
)
INDEXER_FILES = Counter(
    "trailql_indexer_files_total",
    "Trail files handled by the indexer, by outcome (read, skipped, failed).",
    ["outcome"],
)
INDEXER_RETRIES = Counter(
    "trailql_indexer_retries_total",
    "Retries of Elasticsearch requests by the indexer, by reason (rejected, unavailable, split).",
    ["reason"],
)
QUARANTINED_RECORDS = Counter(
    "trailql_quarantined_records_total",
    "Records written to the quarantine instead of the events, by reason (no_event_id, ...).",
    ["reason"],
)
SQS_OLDEST_MESSAGE_AGE_SECONDS = Gauge(
    "trailql_sqs_oldest_message_age_seconds",
    "Age of the oldest message in the last batch received from SQS: how far behind we are.",
)
RATE_LIMITED = Counter(
    "trailql_rate_limited_total",
    "Requests refused with 429 because one credential asked too often or too much at once, "
    "by reason (rate, concurrency).",
    ["reason"],
)
LIVE_SUBSCRIPTIONS = Gauge(
    "trailql_live_subscriptions",
    "Live subscriptions open now, by stream (events, ...).",
    ["stream"],
    multiprocess_mode="livesum",
)
LIVE_EVENTS_PUSHED = Counter(
    "trailql_live_events_pushed_total",
    "Items pushed to live subscriptions (caught up or new), by stream.",
    ["stream"],
)
LIVE_DISCONNECTS = Counter(
    "trailql_live_disconnects_total",
    "WebSocket connections closed, by reason (client, refused, expired, slow, no_pong, "
    "shutdown, protocol).",
    ["reason"],
)
LIVE_POLL_SECONDS = Histogram(
    "trailql_live_poll_seconds",
    "Time of one poll for new items (every page of it), by stream.",
    ["stream"],
    buckets=_LATENCY_BUCKETS,
)
LIVE_LAG_SECONDS = Histogram(
    "trailql_live_lag_seconds",
    "How long after it was indexed each new item was handed to subscriptions, by stream.",
    ["stream"],
    buckets=(0.5, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0, 60.0, 300.0),
)
LIVE_LATE_EVENTS = Counter(
    "trailql_live_late_events_total",
    "Items that became searchable after the feed had passed their indexed time (live "
    "subscriptions missed them): TRAILQL_LIVE_SETTLE is too short. By stream.",
    ["stream"],
)
FINDINGS_CREATED = Counter(
    "trailql_findings_created_total",
    "Findings raised (new ones only, not re-evaluations), by severity.",
    ["severity"],
)
DETECTION_RUNS = Counter(
    "trailql_detection_runs_total",
    "Evaluations of the rules over a window of events, by outcome (ok, failed).",
    ["outcome"],
)
DETECTION_SECONDS = Histogram(
    "trailql_detection_seconds",
    "Time to evaluate every rule over one window of events.",
    buckets=_LATENCY_BUCKETS,
)
NOTIFICATIONS = Counter(
    "trailql_notifications_total",
    "Deliveries of new findings, by channel (webhook, sns) and outcome (delivered, failed).",
    ["channel", "outcome"],
)
INTEGRITY_VERDICTS = Counter(
    "trailql_integrity_verdicts_total",
    "Integrity verdicts reached by the continuous indexer, by kind (log, digest, gap) and "
    "verdict (valid, modified, missing, unlisted, not_yet_covered, signature_invalid, ...).",
    ["kind", "verdict"],
)
