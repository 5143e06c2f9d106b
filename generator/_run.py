"""One generation run: spread the events over five-minute windows, then make and write each.

Allocating events to windows up front is tiny; records are then made and written one window at
a time, so memory stays flat however many events are asked for.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import accumulate
from typing import TYPE_CHECKING, Any, Final

from generator._calendar import DAY_SECONDS, WINDOW_SECONDS, activity
from generator._calls import CallChooser
from generator._cast import Cast
from generator._dice import Dice
from generator._records import record
from generator._requests import request_parameters
from generator._responses import apply
from generator._streams import Stream, new_stream
from generator._world import ACCOUNT_PROFILES, REGIONS
from generator._writer import TrailWriter

if TYPE_CHECKING:
    from pathlib import Path

_WINDOW_BURST: Final = 0.6  # lognormal sigma of a window's volume
_STREAM_BURST: Final = 1.2  # ... and of each account+region's share of it


@dataclass(frozen=True)
class GeneratedTrail:
    """What was written, so the CLI can report it and benchmarks can check their input."""

    files: int
    events: int
    first_event_time: datetime
    last_event_time: datetime


def write_trail(
    out: Path, *, events: int, seed: int, begin: int, days: int, max_records_per_file: int
) -> GeneratedTrail:
    """Write ``events`` records from epoch second ``begin`` for ``days`` days under ``out``."""
    return _Run(
        out,
        events=events,
        seed=seed,
        begin=begin,
        days=days,
        max_records_per_file=max_records_per_file,
    ).run()


class _Run:
    """Holds the run's state; one instance per write_trail() call."""

    def __init__(
        self,
        out: Path,
        *,
        events: int,
        seed: int,
        begin: int,
        days: int,
        max_records_per_file: int,
    ) -> None:
        self.events = events
        self.begin = begin
        self.end = begin + days * DAY_SECONDS
        self.emitted = 0
        # Building order is drawing order: the cast first, then each account+region's groups.
        self.dice = Dice(seed)
        cast = Cast(self.dice)
        self.streams: list[Stream] = [
            new_stream(self.dice, account, region, events=events)
            for account in ACCOUNT_PROFILES
            for region in REGIONS
        ]
        self.chooser = CallChooser(self.dice, cast)
        self.writer = TrailWriter(out, self.dice, max_records=max_records_per_file)

    def run(self) -> GeneratedTrail:
        """Share the events out among the windows by their weight, then make each window."""
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
            times = sorted(self.dice.randrange(lo, hi) for _ in range(count))
            self._window(ws, times)
            first_t = times[0] if first_t < 0 else first_t
            last_t = times[-1]
        return GeneratedTrail(
            files=self.writer.files,
            events=self.emitted,
            first_event_time=datetime.fromtimestamp(first_t, UTC),
            last_event_time=datetime.fromtimestamp(last_t, UTC),
        )

    def _window_weight(self, ws: int) -> float:
        """The window's share of the run: activity at that hour, noise, the odd burst."""
        lo, hi = max(ws, self.begin), min(ws + WINDOW_SECONDS, self.end)
        busy = sum(st.weight * activity(ws, st.region) for st in self.streams)
        noise = self.dice.lognormvariate(0.0, _WINDOW_BURST)
        if self.dice.chance(0.004):  # the odd incident or batch job
            noise *= self.dice.uniform(3.0, 8.0)
        return busy * noise * (hi - lo) / WINDOW_SECONDS

    def _window(self, ws: int, times: list[int]) -> None:
        # Each account+region is bursty on its own: a deploy here, someone debugging there.
        cum = list(
            accumulate(
                st.weight * activity(ws, st.region) * self.dice.lognormvariate(0.0, _STREAM_BURST)
                for st in self.streams
            )
        )
        per_stream: dict[int, list[dict[str, Any]]] = {}
        for t in times:
            s = self.dice.pick_weighted(range(len(self.streams)), cum)
            per_stream.setdefault(s, []).append(self._event(self.streams[s], t))
            self.emitted += 1
        for s in sorted(per_stream):
            st = self.streams[s]
            self.writer.write(st.account.account_id, st.region, ws, per_stream[s])

    def _event(self, st: Stream, t: int) -> dict[str, Any]:
        call = self.chooser.next_call(st, t, self.emitted / self.events)
        params = request_parameters(self.dice, call)
        response = apply(self.dice, call, params) if call.error is None else None
        return record(self.dice, call, params, response)
