"""requestParameters of the calls that read log groups, their events and their tags."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Final

from generator._actions import FILTER_PATTERNS
from generator._calendar import DAY_SECONDS
from generator._errors import INVALID
from generator._world import APPS

if TYPE_CHECKING:
    from generator._dice import Dice
    from generator._log_groups import LogGroup
    from generator._streams import Call, Stream

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
_LAMBDA_QUERY: Final = _QUERIES[3]
_FLOW_LOG_QUERY: Final = _QUERIES[5]
_PROMPTS: Final = (
    "Show the 20 most recent errors",
    "How many requests returned a 5xx status per hour today?",
    "Which Lambda invocations took longer than 3 seconds?",
    "Count log events by log stream in the last hour",
    "Find timeouts mentioning the payments service",
)
_LOOKBACK_SECONDS: Final = (900, 3600, 3 * 3600, 12 * 3600, DAY_SECONDS, 7 * DAY_SECONDS)


def _milliseconds_before(epoch_second: int, seconds_back: int) -> int:
    return (epoch_second - seconds_back) * 1000


def describe_log_groups(dice: Dice, call: Call) -> dict[str, Any] | None:
    """Some SDKs send ``limit`` as a number and some as a string; CloudTrail keeps either."""
    shape = dice.choice(
        ("none", "none", "none", "prefix", "prefix", "prefix", "prefix", "all", "pattern")
    )
    if shape == "none":  # no parameters at all: CloudTrail records null
        return None
    params: dict[str, Any] = {}
    if shape == "prefix":
        name = dice.choice(call.stream.existing_groups or call.stream.groups).name
        prefix_length = name.rfind("/") + 1 if "/" in name else len(name) // 2
        params["logGroupNamePrefix"] = name[: max(prefix_length, 1)]
    elif shape == "pattern":
        params["logGroupNamePattern"] = dice.choice(APPS)
    if dice.chance(0.6):
        limit = dice.choice((50, 50, 10, 5))
        sends_strings = call.principal.browser or "aws-sdk-js" in call.principal.user_agent
        params["limit"] = str(limit) if sends_strings else limit
    return params or None


def describe_log_streams(dice: Dice, call: Call) -> dict[str, Any]:
    params: dict[str, Any] = {"logGroupName": call.target().name}
    if dice.chance(0.85):
        params["orderBy"] = "LastEventTime"
        params["descending"] = True
    else:
        params["orderBy"] = "LogStreamName"
        params["descending"] = False
    if dice.chance(0.5):
        params["limit"] = 50
    return params


def _log_stream_name(dice: Dice, group: LogGroup, stream: Stream, epoch_second: int) -> str:
    """Name a log stream the way the service writing into this kind of group does."""
    match group.kind:
        case "lambda":
            day = time.strftime("%Y/%m/%d", time.gmtime(epoch_second))
            name = f"{day}/[$LATEST]{dice.hex_digits(32)}"
        case "ecs":
            name = f"ecs/{group.app}/{dice.hex_digits(32)}"
        case "rds":
            name = group.name.split("/")[4]
        case "flow":
            name = f"eni-0{dice.hex_digits(16)}-all"
        case "eks":
            name = f"kube-apiserver-{dice.hex_digits(32)}"
        case "trail":
            name = f"{stream.account.account_id}_CloudTrail_{stream.region}"
        case "ec2":
            name = f"i-0{dice.hex_digits(16)}"
        case _:
            name = dice.hex_digits(32)
    return name


def get_log_events(dice: Dice, call: Call) -> dict[str, Any]:
    group = call.target()
    params: dict[str, Any] = {
        "logGroupName": group.name,
        "logStreamName": _log_stream_name(dice, group, call.stream, call.epoch_second),
        "startFromHead": dice.chance(0.3),
    }
    if dice.chance(0.5):
        params["startTime"] = _milliseconds_before(
            call.epoch_second, dice.choice(_LOOKBACK_SECONDS)
        )
        params["endTime"] = call.epoch_second * 1000
    return params


def filter_log_events(dice: Dice, call: Call) -> dict[str, Any]:
    group = call.target()
    params: dict[str, Any] = (
        {"logGroupIdentifier": group.arn} if dice.chance(0.3) else {"logGroupName": group.name}
    )
    pattern = '"timeout' if call.error == INVALID else dice.choice(FILTER_PATTERNS)
    params["filterPattern"] = pattern
    params["startTime"] = _milliseconds_before(call.epoch_second, dice.choice(_LOOKBACK_SECONDS))
    if dice.chance(0.6):
        params["endTime"] = call.epoch_second * 1000
    if call.principal.browser:
        params["interleaved"] = True
    return params


def _queried_groups(call: Call) -> list[LogGroup]:
    return call.groups or [call.target()]


def start_query(dice: Dice, call: Call) -> dict[str, Any]:
    group = call.target()
    groups = _queried_groups(call)
    params: dict[str, Any] = (
        {"logGroupIdentifiers": [queried.arn for queried in groups]}
        if dice.chance(0.3)
        else {"logGroupNames": [queried.name for queried in groups]}
    )
    if group.kind == "lambda" and dice.chance(0.5):
        query = _LAMBDA_QUERY
    elif group.kind == "flow":
        query = _FLOW_LOG_QUERY
    else:
        query = dice.choice(_QUERIES)
    lookback = dice.choice(_LOOKBACK_SECONDS)
    if call.error == INVALID:
        lookback = 400 * DAY_SECONDS
    params["queryString"] = query
    params["startTime"] = call.epoch_second - lookback
    params["endTime"] = call.epoch_second
    if dice.chance(0.4):
        params["limit"] = 10000
    if dice.chance(0.3):
        params["queryLanguage"] = "CWLI"
    return params


def get_query_results(_dice: Dice, call: Call) -> dict[str, Any]:
    return {"queryId": call.query_id}


def start_live_tail(dice: Dice, call: Call) -> dict[str, Any]:
    params: dict[str, Any] = {"logGroupIdentifiers": [group.arn for group in _queried_groups(call)]}
    if dice.chance(0.4):
        params["logEventFilterPattern"] = dice.choice(("ERROR", "WARN", "timeout"))
    return params


def list_tags_for_resource(_dice: Dice, call: Call) -> dict[str, Any]:
    return {"resourceArn": call.target().arn}


def generate_query(dice: Dice, call: Call) -> dict[str, Any]:
    params: dict[str, Any] = {
        "naturalLanguageQuery": dice.choice(_PROMPTS),
        "queryLanguage": "CWLI",
    }
    if call.group is not None and dice.chance(0.7):
        params["logGroupIdentifiers"] = [group.arn for group in _queried_groups(call)]
    return params
