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
_READ_NAMES: Final = tuple(n for n, _ in _READ_MIX)
_READ_CUM: Final = tuple(accumulate(w for _, w in _READ_MIX))
_MULTI_GROUP_READS: Final = frozenset({"StartQuery", "StartLiveTail", "GenerateQuery"})
_WRITE_SHARE: Final = 0.14  # plus lifecycle steps and follow-ups: writes end up ~15% of calls
_LIFECYCLE_SHARE: Final = 0.3  # how eagerly a due create/delete pre-empts ordinary traffic


class CallChooser:
    """Chooses each call, its caller, its log group and whether it fails."""

    def __init__(self, dice: Dice, cast: Cast) -> None:
        self.dice = dice
        self.cast = cast

    def next_call(self, st: Stream, t: int, progress: float) -> Call:
        """The call at ``t`` in ``st``, ``progress`` (0..1) of the way through the run."""
        call = self._followup(st, t) or self._lifecycle(st, t, progress)
        if call is None and self.dice.random() < _WRITE_SHARE:
            call = self._write_call(st, t)
        if call is None:
            call = self._read_call(st, t)
        return call

    def _decided(self, call: Call) -> Call:
        call.error = decide_error(self.dice, call)
        return call

    def _followup(self, st: Stream, t: int) -> Call | None:
        while st.followups and st.followups[0][0] <= t:
            f = heapq.heappop(st.followups)[2]
            g = f.group
            if g is not None and (not g.exists or g.last_change >= t):
                continue
            return self._decided(Call(st, t, f.action, f.principal, g, query_id=f.query_id))
        return None

    def _lifecycle(self, st: Stream, t: int, progress: float) -> Call | None:
        while st.schedule and st.schedule[0][0] <= progress:
            _, _, what, g = heapq.heappop(st.schedule)
            st.due.append((what, g))
        # Obsolete steps: a create whose group exists, a delete whose group never came.
        st.due = [(what, g) for what, g in st.due if g.exists != (what == "create")]
        if not st.due or (st.live and not self.dice.chance(_LIFECYCLE_SHARE)):
            return None
        for i, (what, g) in enumerate(st.due):
            if g.last_change < t:
                action = "CreateLogGroup" if what == "create" else "DeleteLogGroup"
                call = self._decided(
                    Call(st, t, action, self._lifecycle_principal(st, action, g), g)
                )
                if call.error is None:
                    del st.due[i]
                return call
        return None

    def _lifecycle_principal(self, st: Stream, action: str, g: LogGroup) -> Principal:
        acct = st.account.account_id
        if action == "DeleteLogGroup":
            owner = g.owner
            if owner is not None and owner.affinity.get(action, 0.0) > 0:
                return owner
            return self.cast.principal_for(acct, action)
        if g.kind == "lambda" and self.dice.chance(0.55):  # Lambda creates its own groups
            return self.cast.exec_role(acct, g.name)
        if g.kind == "vended":
            return self.cast.principal_by_name(acct, "delivery.logs.amazonaws.com")
        if g.kind == "ec2":
            return self.cast.principal_by_name(acct, "ec2-cloudwatch-agent")
        return self.cast.principal_for(acct, action)

    def _write_call(self, st: Stream, t: int) -> Call | None:
        g = st.live_group(self.dice, t)
        if g is None:
            return None
        options: list[tuple[str, float]] = [
            ("PutRetentionPolicy", 5.0 if g.retention is None else 1.5),
            ("CreateExportTask", 1.5),
            ("PutDataProtectionPolicy", 0.3 if g.protected else 0.6),
            ("TagResource", 0.8),
            ("TagLogGroup", 0.3),
            ("PutResourcePolicy", 0.4),
            ("PutSubscriptionFilter", 1.5 if len(g.filters) < MAX_FILTERS else 0.4),
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
        action = self.dice.pick_weighted([n for n, _ in options], cum)
        owner = g.owner
        if owner is not None and owner.affinity.get(action, 0.0) > 0 and self.dice.chance(0.5):
            principal = owner
        else:
            principal = self.cast.principal_for(st.account.account_id, action)
        call = Call(st, t, action, principal, None if action == "PutResourcePolicy" else g)
        if action == "CreateLogGroup":
            call.error = ACCESS_DENIED if principal.readonly else ALREADY_EXISTS
            return call
        return self._decided(call)

    def _read_call(self, st: Stream, t: int) -> Call:
        action = self.dice.pick_weighted(_READ_NAMES, _READ_CUM)
        if action == "GetQueryResults":
            if st.queries:
                query_id, principal = self.dice.choice(st.queries)
                return self._decided(Call(st, t, action, principal, None, query_id=query_id))
            action = "StartQuery"
        group = None
        if action != "DescribeLogGroups":
            group = st.live_group(self.dice, t)
            if group is None:
                action = "DescribeLogGroups"
        call = Call(st, t, action, self.cast.principal_for(st.account.account_id, action), group)
        if action in _MULTI_GROUP_READS and group is not None:
            call.groups = self._more_groups(st, t, group)
        return self._decided(call)

    def _more_groups(self, st: Stream, t: int, g: LogGroup) -> list[LogGroup]:
        groups = [g]
        for _ in range(self.dice.choice((0, 0, 0, 1, 2))):
            other = st.live_group(self.dice, t)
            if other is not None and other not in groups:
                groups.append(other)
        return groups
