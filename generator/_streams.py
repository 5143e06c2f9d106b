"""One account in one region: one folder of the trail, one pool of log groups, its pending calls.

Also the call being made there, which the error, request and record builders all read.
"""

from __future__ import annotations

import heapq
import itertools
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from generator._log_groups import LogGroup, draw_log_group, log_group_name
from generator._world import ACCOUNT_PROFILES, REGION_WEIGHT, REGIONS, Account

if TYPE_CHECKING:
    from collections.abc import Iterator

    from generator._dice import Dice
    from generator._principals import Principal

_MAX_FOLLOWUPS: Final = 64
_PICK_TRIES: Final = 4
_MISTYPED_SUFFIXES: Final = ("-old", "-v1", "-test", "-tmp", "2")


@dataclass(slots=True)
class Followup:
    """A call that an earlier one makes due, such as polling for a query's results."""

    action: str
    principal: Principal
    group: LogGroup | None = None
    query_id: str = ""


@dataclass(slots=True)
class Stream:
    """The state of one account+region; heaps are ordered by time, then by when queued."""

    account: Account
    region: str
    weight: float
    groups: list[LogGroup]
    group_names: set[str]
    kms_keys: tuple[str, ...]
    vpc_endpoint_id: str
    existing_groups: list[LogGroup] = field(default_factory=list)
    schedule: list[tuple[float, int, str, LogGroup]] = field(default_factory=list)
    due: list[tuple[str, LogGroup]] = field(default_factory=list)
    followups: list[tuple[int, int, Followup]] = field(default_factory=list)
    queries: deque[tuple[str, Principal]] = field(default_factory=lambda: deque(maxlen=16))
    queue_order: Iterator[int] = field(default_factory=itertools.count)  # ties in the heaps

    def group_arn(self, name: str) -> str:
        """The ARN of the log group ``name`` here."""
        return f"arn:aws:logs:{self.region}:{self.account.account_id}:log-group:{name}"

    def plan(self, step: str, progress: float, group: LogGroup) -> None:
        """Make ``step`` ("create" or "delete") due for ``group`` from run ``progress`` on."""
        heapq.heappush(self.schedule, (progress, next(self.queue_order), step, group))

    def follow(self, not_before: int, followup: Followup) -> None:
        """Queue a follow-up call for ``not_before`` or later, unless too many are waiting."""
        if len(self.followups) < _MAX_FOLLOWUPS:
            heapq.heappush(self.followups, (not_before, next(self.queue_order), followup))

    def existing_group(self, dice: Dice, epoch_second: int) -> LogGroup | None:
        """Pick an existing group, favouring popular ones; None if none can be used then."""
        if not self.existing_groups:
            return None
        group = None
        for _ in range(_PICK_TRIES):
            candidate = dice.choice(self.existing_groups)
            if candidate.last_change < epoch_second:
                group = candidate
                if dice.random() < candidate.popularity:
                    break
        return group

    def missing_group(self, dice: Dice, epoch_second: int) -> LogGroup:
        """A group that does not exist then: not created yet, deleted, or a mistyped name."""
        for _ in range(_PICK_TRIES):
            group = dice.choice(self.groups)
            if not group.exists and group.last_change < epoch_second:
                return group
        base = dice.choice(self.groups)
        name = base.name + dice.choice(_MISTYPED_SUFFIXES)
        while name in self.group_names:
            name += "x"
        return LogGroup(
            name=name,
            arn=self.group_arn(name),
            kind=base.kind,
            app=base.app,
            popularity=0.0,
            birth=2.0,
            last_change=epoch_second - 1,
        )


def new_stream(dice: Dice, account: Account, region: str, *, events: int) -> Stream:
    """Draw an account+region's log groups (more for bigger runs) and plan their lifecycles."""
    weight = account.weight * REGION_WEIGHT[region]
    groups_in_average_stream = max(6, min(120, int(events**0.5) // 5))
    count = max(5, round(groups_in_average_stream * len(ACCOUNT_PROFILES) * len(REGIONS) * weight))
    stream = Stream(
        account=account,
        region=region,
        weight=weight,
        groups=[],
        group_names=set(),
        kms_keys=tuple(
            f"arn:aws:kms:{region}:{account.account_id}:key/{dice.uuid4()}" for _ in range(2)
        ),
        vpc_endpoint_id=f"vpce-0{dice.hex_digits(16)}",
    )
    attempts = 0
    while len(stream.groups) < count and attempts < count * 20:
        attempts += 1
        kind, app, name = log_group_name(dice, account)
        if name in stream.group_names:
            continue
        stream.group_names.add(name)
        stream.groups.append(
            draw_log_group(dice, kind=kind, app=app, name=name, arn=stream.group_arn(name))
        )
    for group in stream.groups:
        stream.plan("create", group.birth, group)
        if group.death is not None:
            stream.plan("delete", group.death, group)
    return stream


@dataclass(slots=True)
class Call:
    """One API call being made: where, when, by whom, on what, and whether it fails."""

    stream: Stream
    epoch_second: int
    action: str
    principal: Principal
    group: LogGroup | None
    error: str | None = None
    groups: list[LogGroup] = field(default_factory=list)
    query_id: str = ""

    def target(self) -> LogGroup:
        """The group of a group-scoped call; those are only built with one."""
        if self.group is None:
            raise AssertionError("a log group is required here")
        return self.group
