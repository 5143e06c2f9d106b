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
from generator._digests import DigestOptions, write_digests
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
    #: With digests: how many were written, and the public key list that verifies them.
    digests: int = 0
    public_keys: dict[str, Any] | None = None


def write_trail(
    out: Path,
    *,
    events: int,
    seed: int,
    begin: int,
    days: int,
    max_records_per_file: int,
    digests: DigestOptions | None = None,
) -> GeneratedTrail:
    """Write ``events`` records from epoch second ``begin`` for ``days`` days under ``out``."""
    return _Run(
        out,
        events=events,
        seed=seed,
        begin=begin,
        days=days,
        max_records_per_file=max_records_per_file,
        digests=digests,
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
        digests: DigestOptions | None = None,
    ) -> None:
        self.out = out
        self.digests = digests
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
        self.writer = TrailWriter(
            out,
            self.dice,
            max_records=max_records_per_file,
            keep=digests is not None,
            paused=digests.paused if digests is not None else None,
        )

    def run(self) -> GeneratedTrail:
        """Share the events out among the windows by their weight, then make each window."""
        first_window_start = self.begin - self.begin % WINDOW_SECONDS
        window_starts = range(first_window_start, self.end, WINDOW_SECONDS)
        weights = [self._window_weight(window_start) for window_start in window_starts]
        total_weight = sum(weights)
        weight_so_far = 0.0
        allotted = 0  # events given to the windows so far
        first_second = last_second = -1
        for i, window_start in enumerate(window_starts):
            weight_so_far += weights[i]
            last_window = i == len(weights) - 1
            events_through_window = (
                self.events if last_window else round(self.events * weight_so_far / total_weight)
            )
            count, allotted = events_through_window - allotted, events_through_window
            if count <= 0:
                continue
            start, end = self._inside_run(window_start)
            event_seconds = sorted(self.dice.randrange(start, end) for _ in range(count))
            self._window(window_start, event_seconds)
            first_second = event_seconds[0] if first_second < 0 else first_second
            last_second = event_seconds[-1]
        written = None
        if self.digests is not None:
            written = write_digests(
                self.out, self.writer.written, self.digests, first=self.begin, last=self.end
            )
        return GeneratedTrail(
            files=self.writer.files,
            events=self.emitted - self.writer.dropped,
            first_event_time=datetime.fromtimestamp(first_second, UTC),
            last_event_time=datetime.fromtimestamp(last_second, UTC),
            digests=written.digests if written else 0,
            public_keys=written.public_keys if written else None,
        )

    def _inside_run(self, window_start: int) -> tuple[int, int]:
        """The seconds of the window that fall within the run: the first and the one after."""
        return max(window_start, self.begin), min(window_start + WINDOW_SECONDS, self.end)

    def _window_weight(self, window_start: int) -> float:
        """The window's share of the run: activity at that hour, noise, the odd burst."""
        start, end = self._inside_run(window_start)
        busy = sum(stream.weight * activity(window_start, stream.region) for stream in self.streams)
        noise = self.dice.lognormvariate(0.0, _WINDOW_BURST)
        if self.dice.chance(0.004):  # the odd incident or batch job
            noise *= self.dice.uniform(3.0, 8.0)
        return busy * noise * (end - start) / WINDOW_SECONDS

    def _window(self, window_start: int, event_seconds: list[int]) -> None:
        # Each account+region is bursty on its own: a deploy here, someone debugging there.
        cumulative_weights = list(
            accumulate(
                stream.weight
                * activity(window_start, stream.region)
                * self.dice.lognormvariate(0.0, _STREAM_BURST)
                for stream in self.streams
            )
        )
        per_stream: dict[int, list[dict[str, Any]]] = {}
        for epoch_second in event_seconds:
            stream_index = self.dice.pick_weighted(range(len(self.streams)), cumulative_weights)
            per_stream.setdefault(stream_index, []).append(
                self._event(self.streams[stream_index], epoch_second)
            )
            self.emitted += 1
        for stream_index in sorted(per_stream):
            stream = self.streams[stream_index]
            self.writer.write(
                stream.account.account_id, stream.region, window_start, per_stream[stream_index]
            )

    def _event(self, stream: Stream, epoch_second: int) -> dict[str, Any]:
        call = self.chooser.next_call(stream, epoch_second, self.emitted / self.events)
        params = request_parameters(self.dice, call)
        response = apply(self.dice, call, params) if call.error is None else None
        return record(self.dice, call, params, response)
