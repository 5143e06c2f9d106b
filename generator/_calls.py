"""Which call comes next in an account+region: a due follow-up, a lifecycle step, or traffic."""

from __future__ import annotations

import heapq
from itertools import accumulate
from typing import TYPE_CHECKING, Final

from generator._actions import MAX_FILTERS
from generator._errors import ACCESS_DENIED, ALREADY_EXISTS, decide_error
from generator._streams import Call

if TYPE_CHECKING:
    from generator._cast import Cast
    from generator._dice import Dice
    from generator._log_groups import LogGroup
    from generator._principals import Principal
    from generator._streams import Stream

# Reads as chosen when no follow-up or lifecycle step is due (GetQueryResults mostly arrives
# as polling after StartQuery, see _responses.apply).
_READ_MIX: Final = (
    ("DescribeLogGroups", 24.0), ("DescribeLogStreams", 14.0), ("GetLogEvents", 11.0),
    ("FilterLogEvents", 12.0), ("StartQuery", 9.0), ("GetQueryResults", 4.0),
    ("StartLiveTail", 1.5), ("ListTagsLogGroup", 1.5), ("ListTagsForResource", 1.5),
    ("GenerateQuery", 1.5),
)  # fmt: skip
_READ_MIX_ACTIONS: Final = tuple(action for action, _ in _READ_MIX)
_READ_MIX_CUMULATIVE_WEIGHTS: Final = tuple(accumulate(weight for _, weight in _READ_MIX))
_MULTI_GROUP_READS: Final = frozenset({"StartQuery", "StartLiveTail", "GenerateQuery"})
_WRITE_SHARE: Final = 0.14  # plus lifecycle steps and follow-ups: writes end up ~15% of calls
_LIFECYCLE_SHARE: Final = 0.3  # how eagerly a due create/delete pre-empts ordinary traffic


class CallChooser:
    """Chooses each call, its caller, its log group and whether it fails."""

    def __init__(self, dice: Dice, cast: Cast) -> None:
        self.dice = dice
        self.cast = cast

    def next_call(self, stream: Stream, epoch_second: int, progress: float) -> Call:
        """The call at ``epoch_second`` in ``stream``, ``progress`` (0..1) through the run."""
        call = self._followup(stream, epoch_second)
        if call is None:
            call = self._lifecycle(stream, epoch_second, progress)
        if call is None and self.dice.random() < _WRITE_SHARE:
            call = self._write_call(stream, epoch_second)
        if call is None:
            call = self._read_call(stream, epoch_second)
        return call

    def _decided(self, call: Call) -> Call:
        call.error = decide_error(self.dice, call)
        return call

    def _followup(self, stream: Stream, epoch_second: int) -> Call | None:
        while stream.followups and stream.followups[0][0] <= epoch_second:
            followup = heapq.heappop(stream.followups)[2]
            group = followup.group
            if group is not None and (not group.exists or group.last_change >= epoch_second):
                continue
            return self._decided(
                Call(
                    stream,
                    epoch_second,
                    followup.action,
                    followup.principal,
                    group,
                    query_id=followup.query_id,
                )
            )
        return None

    def _lifecycle(self, stream: Stream, epoch_second: int, progress: float) -> Call | None:
        while stream.schedule and stream.schedule[0][0] <= progress:
            _, _, step, group = heapq.heappop(stream.schedule)
            stream.due.append((step, group))
        # Obsolete steps: a create whose group exists, a delete whose group never came.
        stream.due = [
            (step, group) for step, group in stream.due if group.exists != (step == "create")
        ]
        if not stream.due or (stream.existing_groups and not self.dice.chance(_LIFECYCLE_SHARE)):
            return None
        for i, (step, group) in enumerate(stream.due):
            if group.last_change < epoch_second:
                action = "CreateLogGroup" if step == "create" else "DeleteLogGroup"
                principal = self._lifecycle_principal(stream, action, group)
                call = self._decided(Call(stream, epoch_second, action, principal, group))
                if call.error is None:
                    del stream.due[i]
                return call
        return None

    def _lifecycle_principal(self, stream: Stream, action: str, group: LogGroup) -> Principal:
        account_id = stream.account.account_id
        if action == "DeleteLogGroup":
            owner = group.owner
            if owner is not None and owner.affinity.get(action, 0.0) > 0:
                return owner
            return self.cast.principal_for(account_id, action)
        if group.kind == "lambda" and self.dice.chance(0.55):  # Lambda creates its own groups
            return self.cast.execution_role(account_id, group.name)
        if group.kind == "vended":
            return self.cast.principal_by_name(account_id, "delivery.logs.amazonaws.com")
        if group.kind == "ec2":
            return self.cast.principal_by_name(account_id, "ec2-cloudwatch-agent")
        return self.cast.principal_for(account_id, action)

    def _write_call(self, stream: Stream, epoch_second: int) -> Call | None:
        group = stream.existing_group(self.dice, epoch_second)
        if group is None:
            return None
        weighted_actions: list[tuple[str, float]] = [
            ("PutRetentionPolicy", 5.0 if group.retention is None else 1.5),
            ("CreateExportTask", 1.5),
            ("PutDataProtectionPolicy", 0.3 if group.protected else 0.6),
            ("TagResource", 0.8),
            ("TagLogGroup", 0.3),
            ("PutResourcePolicy", 0.4),
            ("PutSubscriptionFilter", 1.5 if len(group.filters) < MAX_FILTERS else 0.4),
            ("CreateLogGroup", 0.35),  # a re-run that finds it exists: ResourceAlreadyExists
        ]
        if group.retention is not None:
            weighted_actions.append(("DeleteRetentionPolicy", 0.4))
        if group.filters:
            weighted_actions.append(("DeleteSubscriptionFilter", 0.8))
        weighted_actions.append(
            ("AssociateKmsKey", 0.8) if group.kms_key is None else ("DisassociateKmsKey", 0.5)
        )
        cumulative_weights = list(accumulate(weight for _, weight in weighted_actions))
        action = self.dice.pick_weighted(
            [action for action, _ in weighted_actions], cumulative_weights
        )
        owner = group.owner
        if owner is not None and owner.affinity.get(action, 0.0) > 0 and self.dice.chance(0.5):
            principal = owner
        else:
            principal = self.cast.principal_for(stream.account.account_id, action)
        call = Call(
            stream,
            epoch_second,
            action,
            principal,
            None if action == "PutResourcePolicy" else group,
        )
        if action == "CreateLogGroup":
            call.error = ACCESS_DENIED if principal.readonly else ALREADY_EXISTS
            return call
        return self._decided(call)

    def _read_call(self, stream: Stream, epoch_second: int) -> Call:
        action = self.dice.pick_weighted(_READ_MIX_ACTIONS, _READ_MIX_CUMULATIVE_WEIGHTS)
        if action == "GetQueryResults":
            if stream.queries:
                query_id, principal = self.dice.choice(stream.queries)
                return self._decided(
                    Call(stream, epoch_second, action, principal, None, query_id=query_id)
                )
            action = "StartQuery"
        group = None
        if action != "DescribeLogGroups":
            group = stream.existing_group(self.dice, epoch_second)
            if group is None:
                action = "DescribeLogGroups"
        principal = self.cast.principal_for(stream.account.account_id, action)
        call = Call(stream, epoch_second, action, principal, group)
        if action in _MULTI_GROUP_READS and group is not None:
            call.groups = self._more_groups(stream, epoch_second, group)
        return self._decided(call)

    def _more_groups(self, stream: Stream, epoch_second: int, group: LogGroup) -> list[LogGroup]:
        groups = [group]
        for _ in range(self.dice.choice((0, 0, 0, 1, 2))):
            other = stream.existing_group(self.dice, epoch_second)
            if other is not None and other not in groups:
                groups.append(other)
        return groups
