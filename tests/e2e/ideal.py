"""The reference of the end-to-end test: what an exact evaluation of its rules over the samples the
simulator sent says, and when.

The simulator records every batch it pushed (``simulate_platform --record``) with the time it was
sent; the service stamps samples without a timestamp with the time it received them, so the two
agree to within a request's round trip on loopback. Over those samples, in continuous time:

- ``increase(x[w])`` at ``t`` is the sum of the increments of ``x`` sent in ``(t - w, t]`` (the
  counters arrive as increments), and a histogram's ``_count`` the number of its observations;
- a gauge at ``t`` is the last value sent at or before ``t`` (within PromQL's five minutes);
- a rule's condition holds over intervals ("episodes"); the ideal instant of a page is an
  episode's start plus the rule's ``for``, when the episode lasts that long (as issue #19's
  detection benchmark defines it), and the ideal resolution is the episode's end.

A condition changes only when a sample enters or leaves a window, so evaluating it at those
instants gives the episodes exactly.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

LOOKBACK = 300.0  # PromQL's staleness: a gauge sample counts for five minutes


@dataclass(frozen=True)
class Sample:
    """One sample as sent: metric, labels, the time it was sent (Unix), value or observations."""

    metric: str
    labels: tuple[tuple[str, str], ...]
    at: float
    value: float | None
    observations: tuple[float, ...] = ()

    def matches(self, metric: str, labels: dict[str, str]) -> bool:
        own = dict(self.labels)
        return self.metric == metric and all(own.get(k) == v for k, v in labels.items())


@dataclass(frozen=True)
class Batch:
    sent_at: float
    answered_at: float
    outcome: str
    samples: tuple[Sample, ...]


def read_record(path: Path) -> list[Batch]:
    """The batches ``simulate_platform --record`` wrote, in the order sent."""
    batches = []
    for line in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        samples = tuple(
            Sample(
                metric=item["metric"],
                labels=tuple(sorted(item.get("labels", {}).items())),
                at=row["sent_at"],
                value=item.get("value"),
                observations=tuple(item.get("observations", ())),
            )
            for item in row["samples"]
        )
        batches.append(Batch(row["sent_at"], row["answered_at"], row["outcome"], samples))
    return batches


class Samples:
    """The accepted samples, with the exact readings the rules are made of."""

    def __init__(self, batches: Iterable[Batch]) -> None:
        self.samples = [s for b in batches if b.outcome == "accepted" for s in b.samples]
        self.times = sorted({s.at for s in self.samples})

    def increase(self, metric: str, window: float, t: float, **labels: str) -> float | None:
        """Sum of a counter's increments sent in ``(t - w, t]``; None when no series of it has a
        sample in the window (PromQL's empty result)."""
        found = self._window(metric, window, t, labels)
        return math.fsum(s.value or 0.0 for s in found) if found else None

    def observed(self, metric: str, window: float, t: float, **labels: str) -> float | None:
        """``increase(<metric>_count[w])``: the observations of a histogram sent in the window."""
        found = self._window(metric, window, t, labels)
        return float(sum(len(s.observations) for s in found)) if found else None

    def _window(self, metric: str, window: float, t: float, labels: dict[str, str]) -> list[Sample]:
        return [s for s in self.samples if t - window < s.at <= t and s.matches(metric, labels)]

    def latest(self, metric: str, t: float, **labels: str) -> list[float]:
        """The last value of each matching gauge series at ``t``."""
        last: dict[tuple[tuple[str, str], ...], tuple[float, float]] = {}
        for s in self.samples:
            if s.matches(metric, labels) and t - LOOKBACK < s.at <= t and s.value is not None:
                if s.labels not in last or last[s.labels][0] <= s.at:
                    last[s.labels] = (s.at, s.value)
        return [value for _, value in last.values()]

    def change_points(self, windows: Iterable[float]) -> list[float]:
        """Every instant at which a window reading can change."""
        points = set(self.times)
        for window in windows:
            points.update(t + window for t in self.times)
        points.update(t + LOOKBACK for t in self.times)
        return sorted(points)

    def totals(self, counters: dict[str, str]) -> dict[str, float]:
        """What the service should show for everything sent, keyed by the PromQL query that reads
        it: ``sum(c)`` per counter (``counters`` maps its name to the name ``/metrics`` gives it),
        ``sum(h_count)`` and ``sum(h_sum)`` per histogram, and ``g{labels}`` (the last value sent)
        per gauge series."""
        totals: dict[str, float] = {}
        last: dict[str, tuple[float, float]] = {}

        def add(key: str, value: float) -> None:
            totals[key] = totals.get(key, 0.0) + value

        for s in self.samples:
            if s.observations:
                add(f"sum({s.metric}_count)", float(len(s.observations)))
                add(f"sum({s.metric}_sum)", math.fsum(s.observations))
            elif s.value is not None and s.metric in counters:
                add(f"sum({counters[s.metric]})", s.value)
            elif s.value is not None:
                labels = ",".join(f'{k}="{v}"' for k, v in s.labels)
                key = f"{s.metric}{{{labels}}}"
                if key not in last or last[key][0] <= s.at:
                    last[key] = (s.at, s.value)
        return {**totals, **{key: value for key, (_, value) in last.items()}}


@dataclass(frozen=True)
class ExactRule:
    """A rule of the test in two forms: its text for the service, its exact reading here."""

    name: str
    expression: str
    operator: str
    threshold: float
    for_seconds: int
    windows: tuple[float, ...]
    value: Callable[[Samples, float], float | None]
    guard_expression: str = ""
    min_volume: float | None = None
    guard: Callable[[Samples, float], float | None] | None = None

    def holds(self, samples: Samples, t: float) -> bool:
        if self.guard is not None:
            volume = self.guard(samples, t)
            if volume is None or volume < (self.min_volume or 0.0):
                return False
        value = self.value(samples, t)
        if value is None or math.isnan(value):
            return False
        return bool(_COMPARE[self.operator](value, self.threshold))


_COMPARE: dict[str, Callable[[float, float], bool]] = {
    ">": lambda a, b: a > b,
    "<": lambda a, b: a < b,
}


@dataclass(frozen=True)
class Episode:
    """An interval over which a rule's condition held exactly; ``fires_at`` is None when it
    ended before lasting ``for``."""

    start: float
    end: float | None  # None: still holding at the end of the record
    fires_at: float | None


def episodes(rule: ExactRule, samples: Samples, until: float) -> list[Episode]:
    """The rule's episodes up to ``until``, from an exact evaluation at every change point."""
    found: list[Episode] = []
    start: float | None = None
    for t in [p for p in samples.change_points(rule.windows) if p <= until]:
        if rule.holds(samples, t):
            if start is None:
                start = t
        elif start is not None:
            found.append(_episode(start, t, rule.for_seconds))
            start = None
    if start is not None:
        found.append(_episode(start, None, rule.for_seconds))
    return found


def _episode(start: float, end: float | None, for_seconds: float) -> Episode:
    fires = start + for_seconds
    return Episode(start, end, fires if end is None or end - start >= for_seconds else None)


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    """PromQL's reading of ``a / b * 100``: empty when either side is empty."""
    if numerator is None or denominator is None:
        return None
    return math.nan if denominator == 0 else numerator / denominator * 100


def as_dict(episode: Episode, origin: float) -> dict[str, Any]:
    """An episode in seconds from ``origin`` (the simulator's start), for messages."""

    def rel(t: float | None) -> float | None:
        return None if t is None else round(t - origin, 1)

    return {"start": rel(episode.start), "end": rel(episode.end), "fires": rel(episode.fires_at)}
