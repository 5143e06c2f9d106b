"""Synthetic CloudTrail logs of CloudWatch Logs activity, laid out as a trail delivers them to S3.

The indexer, the API and the benchmarks need data with the shape and quirks of real trails
(several identity types, SDK-dependent parameter types, failures, log groups that are created,
reconfigured and deleted in a sensible order) without an AWS account. Everything derives from
one ``random.Random(seed)``, so a seed names a data set; generation runs one five-minute window
at a time, so memory stays flat however many events are asked for.

The model, in short: three accounts (shared services, production, staging) in three regions;
each account+region has a pool of log groups whose lifecycle (create, retention changes,
subscription filters, exports, KMS, data protection, tags, sometimes deletion and re-creation)
unfolds as the run progresses; each account has a fixed cast of principals (SSO users, CI and
Terraform roles, Lambda and EC2 roles, Grafana, IAM users, root, AWS services, a federated user
and Identity Center users), each with its own tools, addresses and habits.
"""

from __future__ import annotations

import gzip
import heapq
import math
import random
import re
import string
import time
import uuid
from bisect import bisect_right
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import accumulate
from typing import TYPE_CHECKING, Any, Final

import orjson

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from pathlib import Path

__all__ = [
    "ACCOUNTS",
    "DEFAULT_START",
    "MAX_RECORDS_PER_FILE",
    "REGIONS",
    "GeneratedTrail",
    "default_days",
    "generate",
]

DEFAULT_START: Final = datetime(2025, 3, 1, tzinfo=UTC)
WINDOW_SECONDS: Final = 300  # CloudTrail delivers a file per account+region about every 5 minutes
DAY_SECONDS: Final = 86_400
# CloudTrail splits busy windows into several files; tests lower this to exercise the split.
MAX_RECORDS_PER_FILE: int = 2000


@dataclass(frozen=True)
class GeneratedTrail:
    """What was written, so the CLI can report it and benchmarks can check their input."""

    files: int
    events: int
    first_event_time: datetime
    last_event_time: datetime


def default_days(events: int) -> int:
    """One more day per 2,000 events, at least two and at most a month.

    Even small runs then cross midnight into a second day folder (the S3 layout partitions by
    day), and a million-event benchmark covers a month, as a real trail's bucket would.
    """
    return max(2, min(30, events // 2000 + 1))


def generate(
    out: Path,
    *,
    events: int,
    seed: int,
    start: datetime | None = None,
    days: int | None = None,
) -> GeneratedTrail:
    """Write ``events`` CloudTrail records under ``out`` in CloudTrail's S3 key layout.

    ``start`` defaults to :data:`DEFAULT_START` (never the clock, so output is reproducible);
    a naive ``start`` is taken as UTC. ``days`` defaults to :func:`default_days`.
    """
    if events < 1:
        raise ValueError(f"events must be at least 1, not {events}")
    span_days = default_days(events) if days is None else days
    if span_days < 1:
        raise ValueError(f"days must be at least 1, not {span_days}")
    begin = DEFAULT_START if start is None else start
    begin = begin.replace(tzinfo=UTC) if begin.tzinfo is None else begin.astimezone(UTC)
    first_second = math.ceil(begin.timestamp())  # eventTime has whole seconds, none before start
    return _Generator(out, events=events, seed=seed, begin=first_second, days=span_days).run()


# --------------------------------------------------------------------------------------------
# The world: accounts, regions, names
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Account:
    account_id: str
    env: str
    weight: float
    vpc_octet: int


_ACCOUNTS: Final = (
    _Account("123456789012", "shared", 0.2, 16),
    _Account("234567890123", "prod", 0.5, 32),
    _Account("345678901234", "staging", 0.3, 48),
)
ACCOUNTS: Final = tuple(a.account_id for a in _ACCOUNTS)
_MANAGEMENT_ACCOUNT: Final = _ACCOUNTS[0].account_id

REGIONS: Final = ("us-east-1", "eu-west-1", "ap-southeast-2")
_REGION_WEIGHT: Final = {"us-east-1": 0.55, "eu-west-1": 0.3, "ap-southeast-2": 0.15}
# Business hours follow the teams working in each region (March: EST, GMT, AEDT).
_REGION_UTC_OFFSET: Final = {"us-east-1": -5, "eu-west-1": 0, "ap-southeast-2": 11}

_APPS: Final = (
    "orders", "payments", "checkout", "inventory", "catalog", "search", "auth",
    "notifications", "billing", "shipping", "recommendations", "reporting", "profile",
    "gateway", "media", "ledger", "pricing", "fraud", "onboarding", "webhooks",
)  # fmt: skip
_FUNCTIONS: Final = (
    "api", "worker", "consumer", "handler", "processor", "scheduler", "authorizer",
    "stream", "dlq-redrive", "cron", "resize", "sync",
)  # fmt: skip
_PEOPLE: Final = (
    "maria.garcia", "james.okafor", "li.wei", "sofia.rossi", "arjun.patel", "emma.schmidt",
    "noah.kim", "fatima.haddad", "lucas.martin", "hana.sato", "olivia.brown", "mateo.silva",
)  # fmt: skip

_ALNUM: Final = string.ascii_letters + string.digits
_UPPER_ALNUM: Final = string.ascii_uppercase + string.digits
_KEY_CHARS: Final = string.ascii_uppercase + "234567"
_HEX: Final = "0123456789abcdef"

_RETENTION_DAYS: Final = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557,
    2922, 3288, 3653,
)  # fmt: skip
_RETENTION_CUM: Final = tuple(
    accumulate((1, 2, 1, 8, 10, 12, 4, 9, 1, 1, 3, 8, 2, 1, 2, 1, 1, 0.3, 0.3, 0.3, 0.3, 0.3))
)
_BAD_RETENTION: Final = (2, 10, 21, 45, 100, 1000)

_BROWSERS: Final = (
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.0.0 Safari/537.36"
    ),
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/132.0.0.0 Safari/537.36 Edg/132.0.0.0"
    ),
    "Mozilla/5.0 (X11; Linux x86_64; rv:134.0) Gecko/20100101 Firefox/134.0",
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/18.2 Safari/605.1.15"
    ),
)

# --------------------------------------------------------------------------------------------
# Actions
# --------------------------------------------------------------------------------------------

LOGS: Final = "logs.amazonaws.com"
MONITORING: Final = "monitoring.amazonaws.com"

_READ_ACTIONS: Final = frozenset(
    {
        "DescribeLogGroups", "DescribeLogStreams", "GetLogEvents", "FilterLogEvents",
        "StartQuery", "GetQueryResults", "StartLiveTail", "ListTagsLogGroup",
        "ListTagsForResource", "GenerateQuery",
    }
)  # fmt: skip
_DATA_ACTIONS: Final = frozenset({"GetLogEvents", "FilterLogEvents"})
# Reads as chosen when no follow-up or lifecycle step is due (GetQueryResults mostly arrives
# as polling after StartQuery, see _Generator._apply).
_READ_MIX: Final = (
    ("DescribeLogGroups", 24.0), ("DescribeLogStreams", 14.0), ("GetLogEvents", 11.0),
    ("FilterLogEvents", 12.0), ("StartQuery", 9.0), ("GetQueryResults", 4.0),
    ("StartLiveTail", 1.5), ("ListTagsLogGroup", 1.5), ("ListTagsForResource", 1.5),
    ("GenerateQuery", 1.5),
)  # fmt: skip
_READ_NAMES: Final = tuple(n for n, _ in _READ_MIX)
_READ_CUM: Final = tuple(accumulate(w for _, w in _READ_MIX))
_WRITE_SHARE: Final = 0.14  # plus lifecycle steps and follow-ups: writes end up ~15% of calls
_WINDOW_BURST: Final = 0.6  # lognormal sigma of a window's volume
_STREAM_BURST: Final = 1.2  # ... and of each account+region's share of it
_LIFECYCLE_SHARE: Final = 0.3  # how eagerly a due create/delete pre-empts ordinary traffic
_THROTTLED: Final = frozenset(
    {
        "DescribeLogGroups", "DescribeLogStreams", "FilterLogEvents", "GetLogEvents",
        "GetQueryResults", "StartQuery", "PutRetentionPolicy", "ListTagsLogGroup",
    }
)  # fmt: skip
# Failure odds per call; ReadOnly principals trying writes and CreateLogGroup on an existing
# group add to these, for ~6% failed calls overall.
_P_DENIED: Final = 0.018
_P_NOT_FOUND: Final = 0.022
_P_THROTTLED: Final = 0.022
_P_INVALID: Final = 0.016

ACCESS_DENIED: Final = "AccessDenied"
NOT_FOUND: Final = "ResourceNotFoundException"
ALREADY_EXISTS: Final = "ResourceAlreadyExistsException"
THROTTLED: Final = "ThrottlingException"
INVALID: Final = "InvalidParameterException"

_INVALID_MESSAGES: Final = {
    "FilterLogEvents": "Invalid character(s) in term '\"timeout'",
    "StartQuery": "Query's end date and time is either before the log groups creation time "
    "or exceeds the log groups log retention settings",
    "PutSubscriptionFilter": "Could not deliver test message to specified destination. "
    "Check if the destination is valid.",
    "CreateExportTask": "GetBucketAcl call on the given bucket failed. Please check if "
    "CloudWatch Logs has been granted permission to perform this operation.",
    "PutRetentionPolicy": "1 validation error detected: Value '{}' at 'retentionInDays' failed "
    "to satisfy constraint: Member must satisfy enum value set: "
    "[" + ", ".join(map(str, _RETENTION_DAYS)) + "]",
}

_FILTER_PATTERNS: Final = (
    "", "ERROR", "?ERROR ?Exception ?Timeout", '{ $.level = "error" }', "{ $.statusCode >= 500 }",
    '"Task timed out"', "[ip, id, user, timestamp, request, status_code=5*, size]",
    '{ $.eventType = "payment_failed" }', "WARN",
)  # fmt: skip
_QUERIES: Final = tuple(
    "\n| ".join(stages)
    for stages in (
        ("fields @timestamp, @message, @logStream, @log", "sort @timestamp desc", "limit 10000"),
        ("fields @timestamp, @message", "filter @message like /(?i)error/", "limit 100"),
        ("filter @message like /ERROR/", "stats count(*) as errors by bin(5m)"),
        ('filter @type = "REPORT"', "stats avg(@duration), max(@duration) by bin(15m)"),
        ("fields @timestamp, status, ip, path", "filter status >= 500", "sort @timestamp desc"),
        ("stats sum(bytes) as bytes by srcAddr, dstAddr", "sort bytes desc", "limit 10"),
        ("parse @message '\"latency_ms\":*,' as latency", "stats pct(latency, 99) by bin(1m)"),
    )
)
_PROMPTS: Final = (
    "Show the 20 most recent errors",
    "How many requests returned a 5xx status per hour today?",
    "Which Lambda invocations took longer than 3 seconds?",
    "Count log events by log stream in the last hour",
    "Find timeouts mentioning the payments service",
)
_LOOKBACK_SECONDS: Final = (900, 3600, 3 * 3600, 12 * 3600, DAY_SECONDS, 7 * DAY_SECONDS)
# Subscription filter names and where each sends: (kind, function or stream name).
_SUBSCRIPTIONS: Final = {
    "datadog-forwarder": ("lambda", "datadog-forwarder"),
    "LambdaStream_log-shipper-opensearch": ("lambda", "log-shipper-opensearch"),
    "splunk-firehose": ("firehose", "splunk-logs"),
    "errors-to-kinesis": ("kinesis", "log-errors"),
}
_TAG_TEAMS: Final = ("platform", "payments", "growth", "data", "sre", "security")
_RESOURCE_POLICIES: Final = (
    "AWSLogDeliveryWrite20150319",
    "TrustEventsToStoreLogEvent",
    "route53-query-logging",
    "es-log-publishing",
)

# --------------------------------------------------------------------------------------------
# Principals
# --------------------------------------------------------------------------------------------

_ALL_READS: Final = {
    "DescribeLogGroups": 3.0, "DescribeLogStreams": 3.0, "GetLogEvents": 3.0,
    "FilterLogEvents": 3.0, "StartQuery": 3.0, "GetQueryResults": 3.0, "StartLiveTail": 3.0,
    "ListTagsLogGroup": 1.0, "ListTagsForResource": 1.0, "GenerateQuery": 3.0,
}  # fmt: skip
_ALL_WRITES: Final = {
    "CreateLogGroup": 1.0, "DeleteLogGroup": 1.0, "PutRetentionPolicy": 1.0,
    "DeleteRetentionPolicy": 1.0, "PutSubscriptionFilter": 1.0, "DeleteSubscriptionFilter": 1.0,
    "CreateExportTask": 1.0, "AssociateKmsKey": 1.0, "DisassociateKmsKey": 1.0,
    "PutDataProtectionPolicy": 1.0, "PutResourcePolicy": 0.5, "TagLogGroup": 0.5,
    "TagResource": 1.0,
}  # fmt: skip
_CLI_READS: Final = {k: v for k, v in _ALL_READS.items() if k != "GenerateQuery"}
_IAC_WRITES: Final = {k: v for k, v in _ALL_WRITES.items() if k != "CreateExportTask"}
_INVENTORY_READS: Final = {
    "DescribeLogGroups": 3.0, "ListTagsLogGroup": 1.0, "ListTagsForResource": 2.0,
}  # fmt: skip


_TLS13: Final = ("TLSv1.3", "TLS_AES_128_GCM_SHA256")
_TLS12: Final = ("TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256")  # older Java stacks


def _scaled(weights: dict[str, float], factor: float) -> dict[str, float]:
    return {k: v * factor for k, v in weights.items()}


@dataclass(slots=True)
class _Principal:
    """One caller and its habits; session credentials rotate as simulated time passes."""

    identity_type: str
    account: str
    name: str  # user, role or service name
    affinity: dict[str, float]  # how likely this caller is to be the one making a call
    network: str  # "human", "vpce", "aws", "ci" or "service"
    user_agent: str  # full string, or the aws-cli prefix when cli is True
    principal_id: str = ""
    role_path: str = "/"
    session_name: str = ""  # fixed session name; "" derives one from the session start
    session_seconds: int = 0  # 0: long-term credentials
    session_phase: int = 0
    access_key: str = ""
    mfa: bool = False
    readonly: bool = False
    console_share: float = 0.0
    cli: bool = False
    browser: str = ""
    ips: tuple[str, ...] = ()
    tls: tuple[str, str] = _TLS13
    issuer: tuple[str, str] = ("", "")  # federated users: issuing IAM user's name and id
    center_user: tuple[str, str] = ("", "")  # Identity Center: user id and identity store ARN
    session_start: int = -1
    identity: dict[str, Any] = field(default_factory=dict)
    arn: str = ""

    @property
    def deniable(self) -> bool:
        """Whether a missing identity-based permission could deny this caller now and then.

        Root, services and Identity Center callers have no identity policy to deny them, and
        the SSO administrators' permission set allows everything.
        """
        return (
            self.identity_type in {"IAMUser", "AssumedRole", "FederatedUser"}
            and "AdministratorAccess" not in self.name
        )


# --------------------------------------------------------------------------------------------
# Log groups and per account+region state
# --------------------------------------------------------------------------------------------


@dataclass(slots=True)
class _LogGroup:
    name: str
    arn: str
    kind: str
    app: str
    popularity: float
    birth: float  # run progress (0..1) from which the group is due to be created
    death: float | None = None
    reborn: float | None = None
    exists: bool = False
    last_change: int = -1  # eventTime (s) of the last create/delete; later calls come after it
    owner: _Principal | None = None
    retention: int | None = None
    kms_key: str | None = None
    filters: dict[str, str] = field(default_factory=dict)
    protected: bool = False


@dataclass(slots=True)
class _Followup:
    action: str
    principal: _Principal
    group: _LogGroup | None = None
    query_id: str = ""


@dataclass(slots=True)
class _Stream:
    """One account in one region: one folder of the trail, one pool of log groups."""

    account: _Account
    region: str
    weight: float
    groups: list[_LogGroup]
    names: set[str]
    kms_keys: tuple[str, ...]
    vpce: str
    live: list[_LogGroup] = field(default_factory=list)
    schedule: list[tuple[float, int, str, _LogGroup]] = field(default_factory=list)
    due: list[tuple[str, _LogGroup]] = field(default_factory=list)
    followups: list[tuple[int, int, _Followup]] = field(default_factory=list)
    queries: deque[tuple[str, _Principal]] = field(default_factory=lambda: deque(maxlen=16))


@dataclass(slots=True)
class _Call:
    stream: _Stream
    t: int
    action: str
    principal: _Principal
    group: _LogGroup | None
    error: str | None = None
    groups: list[_LogGroup] = field(default_factory=list)
    query_id: str = ""


_OFFICE_HOURS: Final = range(8, 19)
_WAKING_HOURS: Final = range(6, 23)
_WEEKEND: Final = frozenset({5, 6})
_MAX_FILTERS: Final = 2  # CloudWatch Logs allows two subscription filters per log group
_KEBAB: Final = re.compile(r"(?<!^)(?=[A-Z])")
_MAX_FOLLOWUPS: Final = 64
_PICK_TRIES: Final = 4


def _kebab(action: str) -> str:
    return _KEBAB.sub("-", action).lower()


_DAY_PREFIX: dict[int, str] = {}


def _event_time(t: int) -> str:
    day, second = divmod(t, DAY_SECONDS)
    prefix = _DAY_PREFIX.get(day)
    if prefix is None:
        prefix = _DAY_PREFIX[day] = time.strftime("%Y-%m-%dT", time.gmtime(t))
    hour, rest = divmod(second, 3600)
    return f"{prefix}{hour:02d}:{rest // 60:02d}:{rest % 60:02d}Z"


def _activity(t: int, region: str) -> float:
    """Automation runs around the clock; people mostly in their working hours on weekdays."""
    local = time.gmtime(t + _REGION_UTC_OFFSET[region] * 3600)
    hour = local.tm_hour
    if hour in _OFFICE_HOURS:
        human = 1.0
    elif hour in _WAKING_HOURS:
        human = 0.3
    else:
        human = 0.03
    if local.tm_wday in _WEEKEND:
        human *= 0.15
    return 0.12 + human


def _uuid4(bits: int) -> str:
    """Format 128 random bits as str(uuid.UUID(int=bits, version=4)) does, several times faster."""
    bits = (bits & ~(0xF000 << 64) | (4 << 76)) & ~(0xC000 << 48) | (0x8000 << 48)
    h = f"{bits:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


# --------------------------------------------------------------------------------------------
# The generator
# --------------------------------------------------------------------------------------------


class _Generator:
    """Holds the run's state; one instance per generate() call."""

    def __init__(self, out: Path, *, events: int, seed: int, begin: int, days: int) -> None:
        self.out = out
        self.events = events
        self.rng = random.Random(seed)  # noqa: S311  # reproducible test data, not secrets
        self.begin = begin
        self.end = begin + days * DAY_SECONDS
        self.emitted = 0
        self.seq = 0
        self.files = 0
        self.dirs: dict[tuple[str, str, str], Path] = {}
        self.identity_store = (
            f"arn:aws:identitystore::{_MANAGEMENT_ACCOUNT}:identitystore/d-{self._hex(10)}"
        )
        self.identities: dict[str, Callable[[_Principal, int], dict[str, Any]]] = {
            "IAMUser": self._iam_user_identity,
            "AssumedRole": self._assumed_role_identity,
            "Root": self._root_identity,
            "AWSService": self._service_identity,
            "FederatedUser": self._federated_identity,
            "IdentityCenterUser": self._identity_center_identity,
        }
        self.principals: dict[str, list[_Principal]] = {}
        self.pools: dict[tuple[str, str], tuple[list[_Principal], list[float]]] = {}
        for account in _ACCOUNTS:
            self._cast(account)
        self.streams = [
            self._stream(account, region) for account in _ACCOUNTS for region in REGIONS
        ]
        self.exec_roles: dict[tuple[str, str], _Principal] = {}
        self.params: dict[str, Callable[[_Call], dict[str, Any] | None]] = {
            "CreateLogGroup": self._p_create,
            "DeleteLogGroup": self._p_name_only,
            "PutRetentionPolicy": self._p_put_retention,
            "DeleteRetentionPolicy": self._p_name_only,
            "CreateExportTask": self._p_export,
            "PutSubscriptionFilter": self._p_put_filter,
            "DeleteSubscriptionFilter": self._p_delete_filter,
            "AssociateKmsKey": self._p_associate_kms,
            "DisassociateKmsKey": self._p_name_only,
            "PutDataProtectionPolicy": self._p_data_protection,
            "PutResourcePolicy": self._p_resource_policy,
            "TagLogGroup": self._p_tag_log_group,
            "TagResource": self._p_tag_resource,
            "DescribeLogGroups": self._p_describe_groups,
            "DescribeLogStreams": self._p_describe_streams,
            "GetLogEvents": self._p_get_events,
            "FilterLogEvents": self._p_filter_events,
            "StartQuery": self._p_start_query,
            "GetQueryResults": self._p_query_results,
            "StartLiveTail": self._p_live_tail,
            "ListTagsLogGroup": self._p_name_only,
            "ListTagsForResource": self._p_list_tags_resource,
            "GenerateQuery": self._p_generate_query,
        }
        self.effects: dict[str, Callable[[_Call, _LogGroup, dict[str, Any]], None]] = {
            "CreateLogGroup": self._created,
            "DeleteLogGroup": self._deleted,
            "PutRetentionPolicy": self._set_retention,
            "DeleteRetentionPolicy": self._clear_retention,
            "PutSubscriptionFilter": self._add_filter,
            "DeleteSubscriptionFilter": self._drop_filter,
            "AssociateKmsKey": self._set_kms,
            "DisassociateKmsKey": self._clear_kms,
            "PutDataProtectionPolicy": self._protect,
        }

    # ---- small random helpers -------------------------------------------------------------

    def _chance(self, p: float) -> bool:
        return self.rng.random() < p

    def _hex(self, n: int) -> str:
        return "".join(self.rng.choices(_HEX, k=n))

    def _uuid(self) -> str:
        return _uuid4(self.rng.getrandbits(128))

    def _unique_id(self, prefix: str) -> str:
        return prefix + "".join(self.rng.choices(_UPPER_ALNUM, k=17))

    def _key_id(self, prefix: str) -> str:
        return prefix + "".join(self.rng.choices(_KEY_CHARS, k=16))

    def _pick_weighted(self, names: Sequence[str], cum: Sequence[float]) -> str:
        return names[bisect_right(cum, self.rng.random() * cum[-1])]

    def _public_ip(self, first: Sequence[int]) -> str:
        r = self.rng
        return f"{r.choice(first)}.{r.randrange(256)}.{r.randrange(256)}.{r.randrange(1, 255)}"

    def _human_ips(self) -> tuple[str, ...]:
        r = self.rng
        office = f"203.0.113.{r.randrange(1, 255)}"
        home = f"198.51.100.{r.randrange(1, 255)}"
        site, host = r.randrange(0x10000), r.randrange(1, 0x10000)
        v6 = f"2001:db8:{site:x}:{r.randrange(0x10000):x}::{host:x}"
        return (office, office, home, v6)

    # ---- the cast -------------------------------------------------------------------------

    def _cli_agent(self, *, os_tag: str, arch: str) -> str:
        r = self.rng
        return (
            f"aws-cli/2.{r.randint(18, 24)}.{r.randint(0, 30)} md/awscrt#0.23.{r.randint(0, 8)} "
            f"ua/2.1 os/{os_tag} md/arch#{arch} lang/python#3.12.{r.randint(6, 9)} "
            "md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe md/prompt#off "
            "md/command#logs."
        )

    def _boto3_lambda_agent(self) -> str:
        v = f"1.35.{self.rng.randint(40, 99)}"
        return (
            f"Boto3/{v} md/Botocore#{v} ua/2.0 os/linux#5.10.230-245.912.amzn2.x86_64 "
            "md/arch#x86_64 lang/python#3.12.8 md/pyimpl#CPython "
            f"exec-env/AWS_Lambda_python3.12 cfg/retry-mode#legacy Botocore/{v}"
        )

    def _terraform_agent(self) -> str:
        r = self.rng
        return (
            f"APN/1.0 HashiCorp/1.0 Terraform/1.10.{r.randint(0, 5)} (+https://www.terraform.io) "
            f"terraform-provider-aws/5.{r.randint(80, 89)}.0 "
            "(+https://registry.terraform.io/providers/hashicorp/aws) "
            f"aws-sdk-go-v2/1.32.{r.randint(5, 8)} ua/2.1 os/linux lang/go#1.23.{r.randint(3, 6)} "
            f"md/GOOS#linux md/GOARCH#amd64 api/cloudwatchlogs#1.45.{r.randint(0, 9)}"
        )

    def _sso_user(
        self, account: _Account, person: str, role: str, affinity: dict[str, float]
    ) -> _Principal:
        mac = self._chance(0.6)  # most of the team is on macOS
        return _Principal(
            "AssumedRole",
            account.account_id,
            role,
            affinity,
            "human",
            self._cli_agent(
                os_tag="macos#24.2.0" if mac else "linux#6.8.0-51-generic",
                arch="arm64" if mac else "x86_64",
            ),
            role_path="/aws-reserved/sso.amazonaws.com/",
            session_name=f"{person}@example.com",
            session_seconds=8 * 3600,
            readonly="ReadOnly" in role,
            console_share=0.65,
            cli=True,
            browser=self.rng.choice(_BROWSERS),
            ips=self._human_ips(),
        )

    def _role(
        self,
        account: _Account,
        role: str,
        affinity: dict[str, float],
        network: str,
        user_agent: str,
        *,
        session_name: str = "",
        session_seconds: int = 3600,
        cli: bool = False,
    ) -> _Principal:
        ips = tuple(self._public_ip((3, 18, 34, 52, 54)) for _ in range(4))
        return _Principal(
            "AssumedRole",
            account.account_id,
            role,
            affinity,
            network,
            user_agent,
            session_name=session_name,
            session_seconds=session_seconds,
            cli=cli,
            ips=ips,
        )

    def _iam_user(
        self,
        account: _Account,
        user: str,
        affinity: dict[str, float],
        network: str,
        user_agent: str,
        *,
        cli: bool = False,
    ) -> _Principal:
        return _Principal(
            "IAMUser",
            account.account_id,
            user,
            affinity,
            network,
            user_agent,
            cli=cli,
            ips=self._human_ips() if network == "human" else (self._public_ip((3, 52, 54)),),
            tls=_TLS12 if "java" in user_agent else _TLS13,
        )

    def _cast(self, account: _Account) -> None:
        """Build an account's callers; their weights set who does what, and how often."""
        r = self.rng
        acct = account.account_id
        people = r.sample(_PEOPLE, 6)
        admin_role = f"AWSReservedSSO_AdministratorAccess_{self._hex(16)}"
        reader_role = f"AWSReservedSSO_ReadOnlyAccess_{self._hex(16)}"
        human_reads = _scaled(_ALL_READS, 1.0)
        cast = [
            self._sso_user(account, people[0], admin_role, human_reads | _scaled(_ALL_WRITES, 2)),
            self._sso_user(account, people[1], admin_role, human_reads | _scaled(_ALL_WRITES, 1)),
            self._sso_user(
                account, people[2], reader_role, human_reads | _scaled(_ALL_WRITES, 0.15)
            ),
            self._sso_user(
                account, people[3], reader_role, human_reads | _scaled(_ALL_WRITES, 0.1)
            ),
            self._role(
                account,
                "terraform-deployer",
                _INVENTORY_READS | _scaled(_IAC_WRITES, 6),
                "aws",
                self._terraform_agent(),
                session_seconds=1800,
            ),
            self._role(
                account,
                "github-actions-deployer",
                _scaled(_INVENTORY_READS, 0.5) | _scaled(_IAC_WRITES, 2),
                "ci",
                self._cli_agent(os_tag="linux#6.8.0-1017-azure", arch="x86_64"),
                session_name="GitHubActions",
                cli=True,
            ),
            self._role(
                account,
                f"log-archiver-role-{''.join(r.choices(_ALNUM, k=8))}",
                {"DescribeLogGroups": 1.0, "CreateExportTask": 12.0},
                "vpce",
                self._boto3_lambda_agent(),
                session_name="log-archiver",
                session_seconds=6 * 3600,
            ),
            self._role(
                account,
                "grafana-cloudwatch-datasource",
                {
                    "DescribeLogGroups": 4.0,
                    "StartQuery": 8.0,
                    "GetQueryResults": 8.0,
                    "GetLogEvents": 1.0,
                    "FilterLogEvents": 2.0,
                    "DescribeLogStreams": 1.0,
                },
                "aws",
                f"Grafana/11.4.{r.randint(0, 2)} AWS-SDK-Go/1.55.5 (go1.22.7; linux; amd64)",
                session_name="grafana",
                session_seconds=900,
            ),
            self._role(
                account,
                "ec2-cloudwatch-agent",
                {"DescribeLogStreams": 6.0, "DescribeLogGroups": 2.0, "PutRetentionPolicy": 0.5},
                "vpce",
                "CWAgent/1.300051.0b992 (go1.22.9; linux; amd64) ID/i-0" + self._hex(16),
                session_name="i-0" + self._hex(16),
                session_seconds=6 * 3600,
            ),
            self._role(
                account,
                f"log-insights-reporter-role-{''.join(r.choices(_ALNUM, k=8))}",
                {
                    "StartQuery": 3.0,
                    "GetQueryResults": 3.0,
                    "FilterLogEvents": 3.0,
                    "GetLogEvents": 2.0,
                },
                "vpce",
                self._boto3_lambda_agent(),
                session_name="log-insights-reporter",
                session_seconds=6 * 3600,
            ),
            self._iam_user(
                account,
                "jenkins-ci",
                _scaled(_INVENTORY_READS, 0.5) | _scaled(_IAC_WRITES, 1.5),
                "aws",
                "aws-sdk-java/2.29.45 Linux/5.15.0-1071-aws OpenJDK_64-Bit_Server_VM/21.0.5+11-LTS "
                "Java/21.0.5 vendor/Eclipse_Adoptium io/sync http/Apache cfg/retry-mode/legacy",
            ),
            self._iam_user(
                account,
                people[4].replace(".", "-"),
                _scaled(_CLI_READS, 0.5) | _scaled(_ALL_WRITES, 0.4),
                "human",
                self._cli_agent(os_tag="linux#6.8.0-51-generic", arch="x86_64"),
                cli=True,
            ),
            self._iam_user(
                account,
                "splunk-addon",
                {
                    "FilterLogEvents": 3.0,
                    "DescribeLogGroups": 1.5,
                    "DescribeLogStreams": 1.5,
                    "GetLogEvents": 2.0,
                },
                "aws",
                "Boto3/1.28.57 Python/3.9.19 Linux/4.18.0-553.el8_10.x86_64 Botocore/1.31.57 "
                "Splunk_TA_AWS/7.8.0",
            ),
            _Principal(
                "Root",
                acct,
                "root",
                {
                    "DescribeLogGroups": 0.4,
                    "DescribeLogStreams": 0.3,
                    "GetLogEvents": 0.3,
                    "PutRetentionPolicy": 0.3,
                    "DeleteLogGroup": 0.3,
                    "AssociateKmsKey": 0.3,
                },
                "human",
                "",
                session_seconds=3600,
                mfa=True,
                console_share=1.0,
                browser=r.choice(_BROWSERS),
                ips=self._human_ips(),
            ),
            _Principal(
                "AWSService",
                acct,
                "cloudformation.amazonaws.com",
                {"DescribeLogGroups": 0.3} | _scaled(_IAC_WRITES, 3),
                "service",
                "cloudformation.amazonaws.com",
            ),
            _Principal(
                "AWSService",
                acct,
                "delivery.logs.amazonaws.com",
                {"DescribeLogGroups": 0.5, "PutResourcePolicy": 4.0},
                "service",
                "delivery.logs.amazonaws.com",
            ),
            _Principal(
                "AWSService",
                acct,
                LOGS,
                {"DescribeLogGroups": 0.6, "DescribeLogStreams": 0.6, "ListTagsForResource": 1.0},
                "service",
                LOGS,
            ),
            _Principal(
                "FederatedUser",
                acct,
                "support-portal",
                {
                    "DescribeLogGroups": 1.0,
                    "FilterLogEvents": 2.0,
                    "GetLogEvents": 2.0,
                    "StartQuery": 1.0,
                    "GetQueryResults": 1.0,
                    "PutRetentionPolicy": 0.3,
                },
                "aws",
                "aws-sdk-js/3.716.0 ua/2.1 os/linux#5.10.230-223.885.amzn2.x86_64 lang/js "
                "md/nodejs#20.18.1 api/cloudwatch-logs#3.716.0 m/E,N",
                session_seconds=12 * 3600,
                ips=(self._public_ip((3, 52)), self._public_ip((3, 52))),
                issuer=("federation-broker", self._unique_id("AIDA")),
            ),
        ]
        cast.extend(
            _Principal(
                "IdentityCenterUser",
                acct,
                person,
                {
                    "GenerateQuery": 6.0,
                    "StartQuery": 0.6,
                    "DescribeLogGroups": 0.5,
                    "StartLiveTail": 0.5,
                },
                "human",
                "",
                session_seconds=8 * 3600,
                console_share=1.0,
                browser=r.choice(_BROWSERS),
                ips=self._human_ips(),
                center_user=(str(uuid.UUID(int=r.getrandbits(128))), self.identity_store),
            )
            for person in (people[5], people[0])
        )
        for p in cast:
            self._finish(p)
        self.principals[acct] = cast
        actions = {a for p in cast for a in p.affinity}
        for action in actions:
            chosen = [p for p in cast if p.affinity.get(action, 0.0) > 0]
            cum = list(accumulate(p.affinity[action] for p in chosen))
            self.pools[acct, action] = (chosen, cum)

    def _finish(self, p: _Principal) -> None:
        """Give a principal the long-lived ids its identity type carries."""
        if p.identity_type == "IAMUser":
            p.principal_id = self._unique_id("AIDA")
            p.access_key = self._key_id("AKIA")
        elif p.identity_type == "AssumedRole":
            p.principal_id = self._unique_id("AROA")
        if p.session_seconds:
            p.session_phase = self.rng.randrange(p.session_seconds)

    def _exec_role(self, account: str, group: _LogGroup) -> _Principal:
        """Lambda's service creates a function's log group with the function's own role."""
        key = (account, group.name)
        role = self.exec_roles.get(key)
        if role is None:
            function = group.name.rsplit("/", 1)[-1]
            role = _Principal(
                "AssumedRole",
                account,
                f"{function[:40]}-role-{''.join(self.rng.choices(_ALNUM, k=8)).lower()}",
                {},
                "aws",
                "awslambda-worker/1.0 rv:2",
                session_name=function,
                session_seconds=6 * 3600,
                ips=tuple(self._public_ip((3, 18, 52, 54)) for _ in range(3)),
            )
            self._finish(role)
            self.exec_roles[key] = role
        return role

    def _principal_for(self, account: str, action: str) -> _Principal:
        chosen, cum = self.pools[account, action]
        return chosen[bisect_right(cum, self.rng.random() * cum[-1])]

    def _principal_by_name(self, account: str, name: str) -> _Principal:
        return next(p for p in self.principals[account] if p.name == name)

    # ---- identities -----------------------------------------------------------------------

    def _identity(self, p: _Principal, t: int) -> dict[str, Any]:
        """Return the caller's userIdentity, rotating session credentials when they expire."""
        start = t - (t - p.session_phase) % p.session_seconds if p.session_seconds else 0
        if not p.identity or start != p.session_start:
            p.session_start = start
            p.identity = self.identities[p.identity_type](p, start)
        return p.identity

    def _attributes(self, p: _Principal, start: int) -> dict[str, str]:
        return {"creationDate": _event_time(start), "mfaAuthenticated": str(p.mfa).lower()}

    def _iam_user_identity(self, p: _Principal, _start: int) -> dict[str, Any]:
        p.arn = f"arn:aws:iam::{p.account}:user/{p.name}"
        return {
            "type": "IAMUser",
            "principalId": p.principal_id,
            "arn": p.arn,
            "accountId": p.account,
            "accessKeyId": p.access_key,
            "userName": p.name,
        }

    def _assumed_role_identity(self, p: _Principal, start: int) -> dict[str, Any]:
        # The AWS SDK for Go names sessions after the time they start, like Terraform does.
        session = p.session_name or f"aws-go-sdk-{start}{self.rng.randrange(10**9):09d}"
        p.arn = f"arn:aws:sts::{p.account}:assumed-role/{p.name}/{session}"
        return {
            "type": "AssumedRole",
            "principalId": f"{p.principal_id}:{session}",
            "arn": p.arn,
            "accountId": p.account,
            "accessKeyId": self._key_id("ASIA"),
            "sessionContext": {
                "sessionIssuer": {
                    "type": "Role",
                    "principalId": p.principal_id,
                    "arn": f"arn:aws:iam::{p.account}:role{p.role_path}{p.name}",
                    "accountId": p.account,
                    "userName": p.name,
                },
                "attributes": self._attributes(p, start),
            },
        }

    def _root_identity(self, p: _Principal, start: int) -> dict[str, Any]:
        p.arn = f"arn:aws:iam::{p.account}:root"
        return {
            "type": "Root",
            "principalId": p.account,
            "arn": p.arn,
            "accountId": p.account,
            "accessKeyId": self._key_id("ASIA"),
            "sessionContext": {"attributes": self._attributes(p, start)},
        }

    def _service_identity(self, p: _Principal, _start: int) -> dict[str, Any]:
        return {"type": "AWSService", "invokedBy": p.name}

    def _federated_identity(self, p: _Principal, start: int) -> dict[str, Any]:
        issuer, issuer_id = p.issuer
        p.arn = f"arn:aws:sts::{p.account}:federated-user/{p.name}"
        return {
            "type": "FederatedUser",
            "principalId": f"{p.account}:{p.name}",
            "arn": p.arn,
            "accountId": p.account,
            "accessKeyId": self._key_id("ASIA"),
            "sessionContext": {
                "sessionIssuer": {
                    "type": "IAMUser",
                    "principalId": issuer_id,
                    "arn": f"arn:aws:iam::{p.account}:user/{issuer}",
                    "accountId": p.account,
                    "userName": issuer,
                },
                "attributes": self._attributes(p, start),
            },
        }

    def _identity_center_identity(self, p: _Principal, _start: int) -> dict[str, Any]:
        user_id, store = p.center_user
        credential = "".join(self.rng.choices(_ALNUM + "-_", k=60))
        return {
            "type": "IdentityCenterUser",
            "accountId": p.account,
            "onBehalfOf": {"userId": user_id, "identityStoreArn": store},
            "credentialId": credential,
        }

    # ---- streams and log groups -----------------------------------------------------------

    def _stream(self, account: _Account, region: str) -> _Stream:
        weight = account.weight * _REGION_WEIGHT[region]
        base = max(6, min(120, int(self.events**0.5) // 5))
        count = max(5, round(base * len(_ACCOUNTS) * len(REGIONS) * weight))
        st = _Stream(
            account=account,
            region=region,
            weight=weight,
            groups=[],
            names=set(),
            kms_keys=tuple(
                f"arn:aws:kms:{region}:{account.account_id}:key/{self._uuid()}" for _ in range(2)
            ),
            vpce=f"vpce-0{self._hex(16)}",
        )
        attempts = 0
        while len(st.groups) < count and attempts < count * 20:
            attempts += 1
            kind, app, name = self._group_name(account, region)
            if name in st.names:
                continue
            st.names.add(name)
            st.groups.append(self._log_group(st, kind, app, name))
        for g in st.groups:
            self._plan(st, "create", g.birth, g)
            if g.death is not None:
                self._plan(st, "delete", g.death, g)
        return st

    def _group_name(self, account: _Account, region: str) -> tuple[str, str, str]:
        r = self.rng
        env = account.env
        app = r.choice(_APPS)
        roll = r.random()
        kinds: tuple[tuple[float, str, str], ...] = (
            (0.34, "lambda", f"/aws/lambda/{app}-{r.choice(_FUNCTIONS)}-{env}"),
            (0.46, "ecs", f"/ecs/{app}-{env}"),
            (0.52, "ecs", f"/aws/ecs/containerinsights/{app}-{env}/performance"),
            (0.58, "rds", f"/aws/rds/instance/{app}-db-{env}/postgresql"),
            (0.61, "rds", f"/aws/rds/cluster/{app}-aurora-{env}/postgresql"),
            (0.64, "flow", f"/aws/vpc/flow-logs/vpc-0{self._hex(16)}"),
            (0.68, "apigw", f"API-Gateway-Execution-Logs_{self._hex(10)}/{env}"),
            (0.71, "apigw", f"/aws/apigateway/{app}-{env}-access-logs"),
            (0.73, "eks", f"/aws/eks/{app}-{env}/cluster"),
            (0.76, "codebuild", f"/aws/codebuild/{app}-build"),
            (0.79, "vended", f"/aws/vendedlogs/states/{app}-workflow-{env}-Logs"),
            (0.84, "app", f"/app/{app}/{env}"),
            (0.87, "app", f"{app}-{env}"),
            (0.93, "ec2", f"/ec2/{app}/var/log/nginx/access.log"),
            (0.96, "ec2", f"/ec2/{app}/var/log/messages"),
            (0.98, "events", f"/aws/events/{app}-audit"),
            (1.0, "trail", f"aws-cloudtrail-logs-{account.account_id}-{self._hex(8)}"),
        )
        for bound, kind, name in kinds:
            if roll < bound:
                return kind, app, name
        return "app", app, f"/app/{app}/{region}"

    def _log_group(self, st: _Stream, kind: str, app: str, name: str) -> _LogGroup:
        """Draw when a group comes into being and whether (and when) it is torn down."""
        r = self.rng
        birth = 0.0 if self._chance(0.35) else r.uniform(0.0, 0.7)
        g = _LogGroup(
            name=name,
            arn=f"arn:aws:logs:{st.region}:{st.account.account_id}:log-group:{name}",
            kind=kind,
            app=app,
            popularity=min(1.0, r.lognormvariate(-1.2, 0.9)),
            birth=birth,
        )
        if self._chance(0.15):  # some groups are decommissioned
            g.death = r.uniform(max(birth + 0.1, 0.3), 0.97)
            if self._chance(0.5):  # and half of those come back
                g.reborn = min(0.995, g.death + r.uniform(0.01, 0.08))
        return g

    def _plan(self, st: _Stream, what: str, when: float, g: _LogGroup) -> None:
        self.seq += 1
        heapq.heappush(st.schedule, (when, self.seq, what, g))

    def _follow(self, st: _Stream, not_before: int, followup: _Followup) -> None:
        if len(st.followups) < _MAX_FOLLOWUPS:
            self.seq += 1
            heapq.heappush(st.followups, (not_before, self.seq, followup))

    def _live_group(self, st: _Stream, t: int) -> _LogGroup | None:
        """Pick an existing group, favouring popular ones; None if none can be used at t."""
        if not st.live:
            return None
        g = None
        for _ in range(_PICK_TRIES):
            candidate = self.rng.choice(st.live)
            if candidate.last_change < t:
                g = candidate
                if self.rng.random() < candidate.popularity:
                    break
        return g

    def _missing_group(self, st: _Stream, t: int) -> _LogGroup:
        """A group that does not exist at t: not created yet, deleted, or a mistyped name."""
        for _ in range(_PICK_TRIES):
            g = self.rng.choice(st.groups)
            if not g.exists and g.last_change < t:
                return g
        base = self.rng.choice(st.groups)
        name = base.name + self.rng.choice(("-old", "-v1", "-test", "-tmp", "2"))
        while name in st.names:
            name += "x"
        return _LogGroup(
            name=name,
            arn=f"arn:aws:logs:{st.region}:{st.account.account_id}:log-group:{name}",
            kind=base.kind,
            app=base.app,
            popularity=0.0,
            birth=2.0,
            last_change=t - 1,
        )

    # ---- the run --------------------------------------------------------------------------

    def run(self) -> GeneratedTrail:
        """Allocate events to windows up front (tiny), then generate and write window by window."""
        first = self.begin - self.begin % WINDOW_SECONDS
        starts = range(first, self.end, WINDOW_SECONDS)
        weights = [self._window_weight(ws) for ws in starts]
        total = sum(weights)
        cum = 0.0
        allotted = 0
        first_t = last_t = -1
        for i, ws in enumerate(starts):
            cum += weights[i]
            upto = self.events if i == len(weights) - 1 else round(self.events * cum / total)
            count, allotted = upto - allotted, upto
            if count <= 0:
                continue
            lo, hi = max(ws, self.begin), min(ws + WINDOW_SECONDS, self.end)
            times = sorted(self.rng.randrange(lo, hi) for _ in range(count))
            self._window(ws, times)
            first_t = times[0] if first_t < 0 else first_t
            last_t = times[-1]
        return GeneratedTrail(
            files=self.files,
            events=self.emitted,
            first_event_time=datetime.fromtimestamp(first_t, UTC),
            last_event_time=datetime.fromtimestamp(last_t, UTC),
        )

    def _window_weight(self, ws: int) -> float:
        lo, hi = max(ws, self.begin), min(ws + WINDOW_SECONDS, self.end)
        activity = sum(st_w * _activity(ws, region) for st_w, region in self._stream_shares())
        noise = self.rng.lognormvariate(0.0, _WINDOW_BURST)
        if self._chance(0.004):  # the odd incident or batch job
            noise *= self.rng.uniform(3.0, 8.0)
        return activity * noise * (hi - lo) / WINDOW_SECONDS

    @staticmethod
    def _stream_shares() -> list[tuple[float, str]]:
        return [(a.weight * _REGION_WEIGHT[r], r) for a in _ACCOUNTS for r in REGIONS]

    def _window(self, ws: int, times: list[int]) -> None:
        # Each account+region is bursty on its own: a deploy here, someone debugging there.
        cum = list(
            accumulate(
                st.weight * _activity(ws, st.region) * self.rng.lognormvariate(0.0, _STREAM_BURST)
                for st in self.streams
            )
        )
        per_stream: dict[int, list[dict[str, Any]]] = {}
        for t in times:
            s = bisect_right(cum, self.rng.random() * cum[-1])
            per_stream.setdefault(s, []).append(self._event(self.streams[s], t))
            self.emitted += 1
        for s in sorted(per_stream):
            self._write(self.streams[s], ws, per_stream[s])

    def _write(self, st: _Stream, ws: int, records: list[dict[str, Any]]) -> None:
        acct, region = st.account.account_id, st.region
        stamp = time.strftime("%Y%m%dT%H%MZ", time.gmtime(ws))
        key = (acct, region, stamp[:8])
        folder = self.dirs.get(key)
        if folder is None:
            day = f"{stamp[:4]}/{stamp[4:6]}/{stamp[6:8]}"
            folder = self.out / "AWSLogs" / acct / "CloudTrail" / region / day
            folder.mkdir(parents=True, exist_ok=True)
            self.dirs[key] = folder
        size = max(1, MAX_RECORDS_PER_FILE)
        for i in range(0, len(records), size):
            body = orjson.dumps({"Records": records[i : i + size]})
            suffix = "".join(self.rng.choices(_ALNUM, k=16))
            path = folder / f"{acct}_CloudTrail_{region}_{stamp}_{suffix}.json.gz"
            path.write_bytes(gzip.compress(body, compresslevel=6, mtime=0))
            self.files += 1

    # ---- choosing the next call -----------------------------------------------------------

    def _event(self, st: _Stream, t: int) -> dict[str, Any]:
        """Next call in this account+region: a due follow-up, a lifecycle step, or traffic."""
        call = self._followup(st, t) or self._lifecycle(st, t)
        if call is None and self.rng.random() < _WRITE_SHARE:
            call = self._write_call(st, t)
        if call is None:
            call = self._read_call(st, t)
        return self._perform(call)

    def _followup(self, st: _Stream, t: int) -> _Call | None:
        while st.followups and st.followups[0][0] <= t:
            f = heapq.heappop(st.followups)[2]
            g = f.group
            if g is not None and (not g.exists or g.last_change >= t):
                continue
            call = _Call(st, t, f.action, f.principal, g, query_id=f.query_id)
            call.error = self._error(call)
            return call
        return None

    def _lifecycle(self, st: _Stream, t: int) -> _Call | None:
        progress = self.emitted / self.events
        while st.schedule and st.schedule[0][0] <= progress:
            _, _, what, g = heapq.heappop(st.schedule)
            st.due.append((what, g))
        # Obsolete steps: a create whose group exists, a delete whose group never came.
        st.due = [(what, g) for what, g in st.due if g.exists != (what == "create")]
        if not st.due or (st.live and not self._chance(_LIFECYCLE_SHARE)):
            return None
        for i, (what, g) in enumerate(st.due):
            if g.last_change < t:
                action = "CreateLogGroup" if what == "create" else "DeleteLogGroup"
                call = _Call(st, t, action, self._lifecycle_principal(st, action, g), g)
                call.error = self._error(call)
                if call.error is None:
                    del st.due[i]
                return call
        return None

    def _lifecycle_principal(self, st: _Stream, action: str, g: _LogGroup) -> _Principal:
        acct = st.account.account_id
        if action == "DeleteLogGroup":
            owner = g.owner
            if owner is not None and owner.affinity.get(action, 0.0) > 0:
                return owner
            return self._principal_for(acct, action)
        if g.kind == "lambda" and self._chance(0.55):  # Lambda creates its own groups
            return self._exec_role(acct, g)
        if g.kind == "vended":
            return self._principal_by_name(acct, "delivery.logs.amazonaws.com")
        if g.kind == "ec2":
            return self._principal_by_name(acct, "ec2-cloudwatch-agent")
        return self._principal_for(acct, action)

    def _write_call(self, st: _Stream, t: int) -> _Call | None:
        g = self._live_group(st, t)
        if g is None:
            return None
        options: list[tuple[str, float]] = [
            ("PutRetentionPolicy", 5.0 if g.retention is None else 1.5),
            ("CreateExportTask", 1.5),
            ("PutDataProtectionPolicy", 0.3 if g.protected else 0.6),
            ("TagResource", 0.8),
            ("TagLogGroup", 0.3),
            ("PutResourcePolicy", 0.4),
            ("PutSubscriptionFilter", 1.5 if len(g.filters) < _MAX_FILTERS else 0.4),
            ("CreateLogGroup", 0.35),  # a re-run that finds it exists: ResourceAlreadyExists
        ]
        if g.retention is not None:
            options.append(("DeleteRetentionPolicy", 0.4))
        if g.filters:
            options.append(("DeleteSubscriptionFilter", 0.8))
        options.append(
            ("AssociateKmsKey", 0.8) if g.kms_key is None else ("DisassociateKmsKey", 0.5)
        )
        cum = list(accumulate(w for _, w in options))
        action = self._pick_weighted([n for n, _ in options], cum)
        owner = g.owner
        if owner is not None and owner.affinity.get(action, 0.0) > 0 and self._chance(0.5):
            principal = owner
        else:
            principal = self._principal_for(st.account.account_id, action)
        call = _Call(st, t, action, principal, None if action == "PutResourcePolicy" else g)
        if action == "CreateLogGroup":
            call.error = ACCESS_DENIED if principal.readonly else ALREADY_EXISTS
        else:
            call.error = self._error(call)
        return call

    def _read_call(self, st: _Stream, t: int) -> _Call:
        action = self._pick_weighted(_READ_NAMES, _READ_CUM)
        acct = st.account.account_id
        if action == "GetQueryResults":
            if st.queries:
                query_id, principal = self.rng.choice(st.queries)
                call = _Call(st, t, action, principal, None, query_id=query_id)
                call.error = self._error(call)
                return call
            action = "StartQuery"
        group = None
        if action != "DescribeLogGroups":
            group = self._live_group(st, t)
            if group is None:
                action = "DescribeLogGroups"
        call = _Call(st, t, action, self._principal_for(acct, action), group)
        if action in {"StartQuery", "StartLiveTail", "GenerateQuery"} and group is not None:
            call.groups = self._more_groups(st, t, group)
        call.error = self._error(call)
        return call

    def _more_groups(self, st: _Stream, t: int, g: _LogGroup) -> list[_LogGroup]:
        groups = [g]
        for _ in range(self.rng.choice((0, 0, 0, 1, 2))):
            other = self._live_group(st, t)
            if other is not None and other not in groups:
                groups.append(other)
        return groups

    def _error(self, call: _Call) -> str | None:
        """Decide whether the call fails, and how; a NotFound retargets it at a missing group."""
        action, p = call.action, call.principal
        if p.readonly and action not in _READ_ACTIONS:
            return ACCESS_DENIED
        roll = self.rng.random()
        error = None
        if roll < _P_DENIED:
            error = ACCESS_DENIED if p.deniable else None
        elif roll < _P_DENIED + _P_NOT_FOUND:
            if call.group is not None and action != "CreateLogGroup":
                call.group = self._missing_group(call.stream, call.t)
                call.groups = []
                error = NOT_FOUND
        elif roll < _P_DENIED + _P_NOT_FOUND + _P_THROTTLED:
            error = THROTTLED if action in _THROTTLED else None
        elif roll < _P_DENIED + _P_NOT_FOUND + _P_THROTTLED + _P_INVALID:
            error = INVALID if action in _INVALID_MESSAGES else None
        return error

    # ---- turning a call into a record -----------------------------------------------------

    def _perform(self, call: _Call) -> dict[str, Any]:
        params = self.params[call.action](call)
        response: dict[str, Any] | None = None
        if call.error is None:
            response = self._apply(call, params)
        return self._record(call, params, response)

    def _apply(self, call: _Call, params: dict[str, Any] | None) -> dict[str, Any] | None:
        """Carry a successful call's effect into the world; return its responseElements."""
        st, g, t, action = call.stream, call.group, call.t, call.action
        if action == "CreateExportTask":
            return {"taskId": self._uuid()}
        if action == "StartQuery":
            query_id = self._uuid()
            st.queries.append((query_id, call.principal))
            for delay in range(1, 1 + self.rng.choice((1, 2, 2, 3))):
                self._follow(
                    st, t + delay * 2, _Followup("GetQueryResults", call.principal, None, query_id)
                )
            return {"queryId": query_id}
        if g is None or params is None or action in _READ_ACTIONS:
            return None
        effect = self.effects.get(action)
        if effect is not None:
            effect(call, g, params)
        return None

    def _created(self, call: _Call, g: _LogGroup, params: dict[str, Any]) -> None:
        g.exists = True
        g.last_change = call.t
        g.owner = call.principal
        g.kms_key = params.get("kmsKeyId")
        call.stream.live.append(g)
        iac = call.principal.name in {"terraform-deployer", "cloudformation.amazonaws.com"}
        if (iac or call.principal.name == "ec2-cloudwatch-agent") and self._chance(0.75):
            self._follow(
                call.stream,
                call.t + self.rng.randint(1, 4),
                _Followup("PutRetentionPolicy", call.principal, g),
            )

    def _deleted(self, call: _Call, g: _LogGroup, _params: dict[str, Any]) -> None:
        st = call.stream
        g.exists = False
        g.last_change = call.t
        g.retention = g.kms_key = None
        g.filters.clear()
        g.protected = False
        st.live.remove(g)
        if g.reborn is not None:
            self._plan(st, "create", g.reborn, g)
            g.death = g.reborn = None

    def _set_retention(self, _call: _Call, g: _LogGroup, params: dict[str, Any]) -> None:
        g.retention = params["retentionInDays"]

    def _clear_retention(self, _call: _Call, g: _LogGroup, _params: dict[str, Any]) -> None:
        g.retention = None

    def _add_filter(self, _call: _Call, g: _LogGroup, params: dict[str, Any]) -> None:
        g.filters[params["filterName"]] = params["destinationArn"]

    def _drop_filter(self, _call: _Call, g: _LogGroup, params: dict[str, Any]) -> None:
        g.filters.pop(params["filterName"], None)

    def _set_kms(self, _call: _Call, g: _LogGroup, params: dict[str, Any]) -> None:
        g.kms_key = params["kmsKeyId"]

    def _clear_kms(self, _call: _Call, g: _LogGroup, _params: dict[str, Any]) -> None:
        g.kms_key = None

    def _protect(self, _call: _Call, g: _LogGroup, _params: dict[str, Any]) -> None:
        g.protected = True

    def _record(
        self, call: _Call, params: dict[str, Any] | None, response: dict[str, Any] | None
    ) -> dict[str, Any]:
        st, p, action, t = call.stream, call.principal, call.action, call.t
        acct, region = st.account.account_id, st.region
        source = MONITORING if action == "GenerateQuery" else LOGS
        identity = self._identity(p, t)
        ip, agent, vpce, console = self._origin(call)
        data = action in _DATA_ACTIONS
        rec: dict[str, Any] = {
            "eventVersion": "1.09" if data or p.identity_type == "AWSService" else "1.10",
            "userIdentity": identity,
            "eventTime": _event_time(t),
            "eventSource": source,
            "eventName": action,
            "awsRegion": region,
            "sourceIPAddress": ip,
            "userAgent": agent,
        }
        if call.error is not None:
            rec["errorCode"] = call.error
            rec["errorMessage"] = self._message(call, params)
        rec["requestParameters"] = params
        rec["responseElements"] = response
        rec["requestID"] = self._uuid()
        rec["eventID"] = self._uuid()
        rec["readOnly"] = action in _READ_ACTIONS
        if data and call.group is not None:
            rec["resources"] = [
                {"accountId": acct, "type": "AWS::Logs::LogGroup", "ARN": call.group.arn}
            ]
        rec["eventType"] = "AwsApiCall"
        rec["managementEvent"] = not data
        rec["recipientAccountId"] = acct
        if vpce:
            rec["vpcEndpointId"] = st.vpce
            rec["vpcEndpointAccountId"] = acct
        rec["eventCategory"] = "Data" if data else "Management"
        if p.network != "service" and ip != "AWS Internal":
            rec["tlsDetails"] = {
                "tlsVersion": p.tls[0],
                "cipherSuite": p.tls[1],
                "clientProvidedHostHeader": f"{source.split('.')[0]}.{region}.amazonaws.com",
            }
        if console:
            rec["sessionCredentialFromConsole"] = "true"
        return rec

    def _origin(self, call: _Call) -> tuple[str, str, bool, bool]:
        """Return sourceIPAddress, userAgent, whether via a VPC endpoint, whether console."""
        p, r = call.principal, self.rng
        if p.network == "service":
            return p.name, p.user_agent, False, False
        console = bool(p.browser) and (
            call.action == "GenerateQuery" or r.random() < p.console_share
        )
        if console:
            if self._chance(0.05):  # console calls relayed inside AWS
                return "AWS Internal", "AWS Internal", False, True
            return r.choice(p.ips), p.browser, False, True
        agent = p.user_agent + _kebab(call.action) if p.cli else p.user_agent
        if p.network == "vpce":
            octet = call.stream.account.vpc_octet + REGIONS.index(call.stream.region)
            return f"10.{octet}.{r.randrange(64)}.{r.randrange(1, 255)}", agent, True, False
        if p.network == "ci":
            return self._public_ip((4, 13, 20, 40, 52)), agent, False, False
        return r.choice(p.ips), agent, False, False

    def _message(self, call: _Call, params: dict[str, Any] | None) -> str:
        error, action, st = call.error, call.action, call.stream
        if error == ACCESS_DENIED:
            resource = (
                f"{call.group.arn}:log-stream:"
                if call.group is not None
                else f"arn:aws:logs:{st.region}:{st.account.account_id}:log-group::log-stream:"
            )
            return (
                f"User: {call.principal.arn} is not authorized to perform: logs:{action} on "
                f"resource: {resource} because no identity-based policy allows the "
                f"logs:{action} action"
            )
        if error == NOT_FOUND:
            return "The specified log group does not exist."
        if error == ALREADY_EXISTS:
            return "The specified log group already exists"
        if error == THROTTLED:
            return "Rate exceeded"
        message = _INVALID_MESSAGES[action]
        if action == "PutRetentionPolicy" and params is not None:
            return message.format(params["retentionInDays"])
        return message

    # ---- requestParameters ----------------------------------------------------------------

    def _ms(self, t: int, back: int) -> int:
        return (t - back) * 1000

    def _lookback(self) -> int:
        return self.rng.choice(_LOOKBACK_SECONDS)

    def _tags(self, g: _LogGroup, st: _Stream) -> dict[str, str]:
        tags = {"team": self.rng.choice(_TAG_TEAMS), "env": st.account.env, "app": g.app}
        if self._chance(0.4):
            tags["cost-center"] = f"cc-{self.rng.randint(1000, 9999)}"
        return tags

    def _p_create(self, call: _Call) -> dict[str, Any]:
        g = _need(call.group)
        params: dict[str, Any] = {"logGroupName": g.name}
        r = self.rng
        if self._chance(0.15):
            params["kmsKeyId"] = r.choice(call.stream.kms_keys)
        if call.principal.identity_type != "AWSService" and self._chance(0.5):
            params["tags"] = self._tags(g, call.stream)
        if self._chance(0.05):
            params["logGroupClass"] = "INFREQUENT_ACCESS"
        return params

    def _p_name_only(self, call: _Call) -> dict[str, Any]:
        return {"logGroupName": _need(call.group).name}

    def _p_put_retention(self, call: _Call) -> dict[str, Any]:
        g = _need(call.group)
        if call.error == INVALID:
            return {"logGroupName": g.name, "retentionInDays": self.rng.choice(_BAD_RETENTION)}
        days = g.retention
        while days == g.retention:  # a change, not a no-op re-apply
            days = _RETENTION_DAYS[
                bisect_right(_RETENTION_CUM, self.rng.random() * _RETENTION_CUM[-1])
            ]
        return {"logGroupName": g.name, "retentionInDays": days}

    def _p_export(self, call: _Call) -> dict[str, Any]:
        g = _need(call.group)
        day_start = call.t - call.t % DAY_SECONDS - DAY_SECONDS
        stamp = time.strftime("%Y-%m-%d", time.gmtime(day_start))
        slug = g.name.strip("/").replace("/", "-").replace("$", "")
        acct, region = call.stream.account.account_id, call.stream.region
        return {
            "taskName": f"export-{slug}-{stamp}",
            "logGroupName": g.name,
            "from": day_start * 1000,
            "to": (day_start + DAY_SECONDS) * 1000 - 1,
            "destination": f"acme-log-archive-{acct}-{region}",
            "destinationPrefix": f"exports/{slug}/{stamp.replace('-', '/')}",
        }

    def _p_put_filter(self, call: _Call) -> dict[str, Any]:
        """Add a filter the group lacks, or (at the limit, or sometimes) update one it has."""
        g = _need(call.group)
        r = self.rng
        acct, region = call.stream.account.account_id, call.stream.region
        env = call.stream.account.env
        if g.filters and (len(g.filters) >= _MAX_FILTERS or self._chance(0.4)):
            name = r.choice(sorted(g.filters))
        else:
            name = r.choice([n for n in _SUBSCRIPTIONS if n not in g.filters])
        kind, target = _SUBSCRIPTIONS[name]
        params: dict[str, Any] = {
            "logGroupName": g.name,
            "filterName": name,
            "filterPattern": r.choice(_FILTER_PATTERNS),
        }
        if kind == "lambda":
            params["destinationArn"] = f"arn:aws:lambda:{region}:{acct}:function:{target}"
        elif kind == "firehose":
            params["destinationArn"] = (
                f"arn:aws:firehose:{region}:{acct}:deliverystream/{target}-{env}"
            )
            params["roleArn"] = f"arn:aws:iam::{acct}:role/CWLtoFirehoseRole"
        else:
            params["destinationArn"] = f"arn:aws:kinesis:{region}:{acct}:stream/{target}-{env}"
            params["roleArn"] = f"arn:aws:iam::{acct}:role/CWLtoKinesisRole"
            if self._chance(0.5):
                params["distribution"] = "ByLogStream"
        return params

    def _p_delete_filter(self, call: _Call) -> dict[str, Any]:
        g = _need(call.group)
        name = self.rng.choice(sorted(g.filters)) if g.filters else "datadog-forwarder"
        return {"logGroupName": g.name, "filterName": name}

    def _p_associate_kms(self, call: _Call) -> dict[str, Any]:
        return {
            "logGroupName": _need(call.group).name,
            "kmsKeyId": self.rng.choice(call.stream.kms_keys),
        }

    def _p_data_protection(self, call: _Call) -> dict[str, Any]:
        g = _need(call.group)
        identifiers = [
            f"arn:aws:dataprotection::aws:data-identifier/{name}"
            for name in self.rng.sample(
                ("EmailAddress", "CreditCardNumber", "AwsSecretKey", "IpAddress", "Name"), 2
            )
        ]
        document = {
            "Name": "data-protection-policy",
            "Description": "",
            "Version": "2021-06-01",
            "Statement": [
                {
                    "Sid": "audit-policy",
                    "DataIdentifier": identifiers,
                    "Operation": {"Audit": {"FindingsDestination": {}}},
                },
                {
                    "Sid": "redact-policy",
                    "DataIdentifier": identifiers,
                    "Operation": {"Deidentify": {"MaskConfig": {}}},
                },
            ],
        }
        ident = g.arn if self._chance(0.4) else g.name
        return {"logGroupIdentifier": ident, "policyDocument": orjson.dumps(document).decode()}

    def _p_resource_policy(self, call: _Call) -> dict[str, Any]:
        acct, region = call.stream.account.account_id, call.stream.region
        name = self.rng.choice(_RESOURCE_POLICIES)
        service = {
            "AWSLogDeliveryWrite20150319": "delivery.logs.amazonaws.com",
            "TrustEventsToStoreLogEvent": "events.amazonaws.com",
            "route53-query-logging": "route53.amazonaws.com",
            "es-log-publishing": "es.amazonaws.com",
        }[name]
        document = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": name,
                    "Effect": "Allow",
                    "Principal": {"Service": service},
                    "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                    "Resource": f"arn:aws:logs:{region}:{acct}:log-group:*",
                    "Condition": {"StringEquals": {"aws:SourceAccount": acct}},
                }
            ],
        }
        return {"policyName": name, "policyDocument": orjson.dumps(document).decode()}

    def _p_tag_log_group(self, call: _Call) -> dict[str, Any]:
        g = _need(call.group)
        return {"logGroupName": g.name, "tags": self._tags(g, call.stream)}

    def _p_tag_resource(self, call: _Call) -> dict[str, Any]:
        g = _need(call.group)
        return {"resourceArn": g.arn, "tags": self._tags(g, call.stream)}

    def _p_list_tags_resource(self, call: _Call) -> dict[str, Any]:
        return {"resourceArn": _need(call.group).arn}

    def _p_describe_groups(self, call: _Call) -> dict[str, Any] | None:
        """Some SDKs send ``limit`` as a number and some as a string; CloudTrail keeps either."""
        r = self.rng
        shape = r.choice(
            ("none", "none", "none", "prefix", "prefix", "prefix", "prefix", "all", "pattern")
        )
        if shape == "none":  # no parameters at all: CloudTrail records null
            return None
        params: dict[str, Any] = {}
        if shape == "prefix":
            name = r.choice(call.stream.live or call.stream.groups).name
            cut = name.rfind("/") + 1 if "/" in name else len(name) // 2
            params["logGroupNamePrefix"] = name[: max(cut, 1)]
        elif shape == "pattern":
            params["logGroupNamePattern"] = r.choice(_APPS)
        if self._chance(0.6):
            limit = r.choice((50, 50, 10, 5))
            stringly = call.principal.browser or "aws-sdk-js" in call.principal.user_agent
            params["limit"] = str(limit) if stringly else limit
        return params or None

    def _p_describe_streams(self, call: _Call) -> dict[str, Any]:
        params: dict[str, Any] = {"logGroupName": _need(call.group).name}
        if self._chance(0.85):
            params["orderBy"] = "LastEventTime"
            params["descending"] = True
        else:
            params["orderBy"] = "LogStreamName"
            params["descending"] = False
        if self._chance(0.5):
            params["limit"] = 50
        return params

    def _stream_name(self, g: _LogGroup, st: _Stream, t: int) -> str:
        """Name a log stream the way the service writing into this kind of group does."""
        match g.kind:
            case "lambda":
                name = time.strftime("%Y/%m/%d", time.gmtime(t)) + f"/[$LATEST]{self._hex(32)}"
            case "ecs":
                name = f"ecs/{g.app}/{self._hex(32)}"
            case "rds":
                name = g.name.split("/")[4]
            case "flow":
                name = f"eni-0{self._hex(16)}-all"
            case "eks":
                name = f"kube-apiserver-{self._hex(32)}"
            case "trail":
                name = f"{st.account.account_id}_CloudTrail_{st.region}"
            case "ec2":
                name = f"i-0{self._hex(16)}"
            case _:
                name = self._hex(32)
        return name

    def _p_get_events(self, call: _Call) -> dict[str, Any]:
        g = _need(call.group)
        params: dict[str, Any] = {
            "logGroupName": g.name,
            "logStreamName": self._stream_name(g, call.stream, call.t),
            "startFromHead": self._chance(0.3),
        }
        if self._chance(0.5):
            params["startTime"] = self._ms(call.t, self._lookback())
            params["endTime"] = call.t * 1000
        return params

    def _p_filter_events(self, call: _Call) -> dict[str, Any]:
        g = _need(call.group)
        r = self.rng
        params: dict[str, Any] = (
            {"logGroupIdentifier": g.arn} if self._chance(0.3) else {"logGroupName": g.name}
        )
        pattern = '"timeout' if call.error == INVALID else r.choice(_FILTER_PATTERNS)
        params["filterPattern"] = pattern
        params["startTime"] = self._ms(call.t, self._lookback())
        if self._chance(0.6):
            params["endTime"] = call.t * 1000
        if call.principal.browser:
            params["interleaved"] = True
        return params

    def _query_targets(self, call: _Call) -> dict[str, Any]:
        groups = call.groups or [_need(call.group)]
        if self._chance(0.3):
            return {"logGroupIdentifiers": [g.arn for g in groups]}
        return {"logGroupNames": [g.name for g in groups]}

    def _p_start_query(self, call: _Call) -> dict[str, Any]:
        g = _need(call.group)
        params = self._query_targets(call)
        if g.kind == "lambda" and self._chance(0.5):
            query = _QUERIES[3]
        elif g.kind == "flow":
            query = _QUERIES[5]
        else:
            query = self.rng.choice(_QUERIES)
        back = self._lookback()
        if call.error == INVALID:
            back = 400 * DAY_SECONDS
        params["queryString"] = query
        params["startTime"] = call.t - back
        params["endTime"] = call.t
        if self._chance(0.4):
            params["limit"] = 10000
        if self._chance(0.3):
            params["queryLanguage"] = "CWLI"
        return params

    def _p_query_results(self, call: _Call) -> dict[str, Any]:
        return {"queryId": call.query_id}

    def _p_live_tail(self, call: _Call) -> dict[str, Any]:
        groups = call.groups or [_need(call.group)]
        params: dict[str, Any] = {"logGroupIdentifiers": [g.arn for g in groups]}
        if self._chance(0.4):
            params["logEventFilterPattern"] = self.rng.choice(("ERROR", "WARN", "timeout"))
        return params

    def _p_generate_query(self, call: _Call) -> dict[str, Any]:
        params: dict[str, Any] = {
            "naturalLanguageQuery": self.rng.choice(_PROMPTS),
            "queryLanguage": "CWLI",
        }
        if call.group is not None and self._chance(0.7):
            params["logGroupIdentifiers"] = [g.arn for g in call.groups or [call.group]]
        return params


def _need(g: _LogGroup | None) -> _LogGroup:
    """Group-scoped calls are only built with a group; this narrows the type."""
    if g is None:
        raise AssertionError("a log group is required here")
    return g
