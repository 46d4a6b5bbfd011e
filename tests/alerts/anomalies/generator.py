"""The synthetic series of issue #16's quality test, from a fixed random seed.

5 weeks of 5-minute points around a mean of 1,000: a daily cycle and a weekly cycle, each of
amplitude 30 % of the mean (peaks at 18:00 and on Saturday evening, so the lowest point,
Wednesday 06:00, is 40 % of the mean), Gaussian noise of standard deviation 5 % of the mean, and
in the last 2 weeks 10 injected anomalies that multiply the value: 4 spikes (x1.6 for 30
minutes), 3 drops (x0.5 for 1 hour) and 3 level shifts (x1.4 for 1 day), at random instants at
least 6 hours apart. ``inject=False`` gives the same series (same noise) without them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from alerts.anomalies import STEP_SECONDS, History

START = datetime(2026, 1, 5, tzinfo=UTC)  # a Monday, 00:00
WEEKS = 5
EVALUATED_WEEKS = 2
MEAN = 1_000.0
AMPLITUDE = 0.30
NOISE = 0.05
DAY = 86_400
WEEK = 7 * DAY
MINIMUM_GAP = 6 * 3_600
# (kind, factor, duration in seconds, how many), longest first so that placement always succeeds.
INJECTIONS = (
    ("level shift", 1.4, DAY, 3),
    ("drop", 0.5, 3_600, 3),
    ("spike", 1.6, 1_800, 4),
)


@dataclass(frozen=True)
class Injection:
    kind: str
    start: int  # epoch seconds
    end: int

    def covers(self, times: np.ndarray) -> np.ndarray:
        return (times >= self.start) & (times < self.end)


@dataclass(frozen=True)
class Synthetic:
    history: History
    injections: tuple[Injection, ...]
    evaluation_start: int  # the start of the last 2 weeks (epoch seconds)


def generate(seed: int, *, inject: bool = True) -> Synthetic:
    """The seeded series; with ``inject`` the 10 anomalies are multiplied in."""
    rng = np.random.default_rng(seed)
    first = int(START.timestamp())
    times = first + STEP_SECONDS * np.arange(WEEKS * WEEK // STEP_SECONDS, dtype=np.int64)
    since = times - first
    daily = np.cos(2 * np.pi * (since - 18 * 3_600) / DAY)
    weekly = np.cos(2 * np.pi * (since - (5 * DAY + 18 * 3_600)) / WEEK)
    values = MEAN * (1 + AMPLITUDE * daily + AMPLITUDE * weekly)
    values = values + rng.normal(0.0, NOISE * MEAN, len(times))
    evaluation_start = first + (WEEKS - EVALUATED_WEEKS) * WEEK
    injections = _place(rng, evaluation_start, first + WEEKS * WEEK)
    if inject:
        for injection, (_, factor, _, _) in zip(injections, _expanded(), strict=True):
            values = np.where(injection.covers(times), values * factor, values)
    return Synthetic(History.of(times, values), injections if inject else (), evaluation_start)


def _expanded() -> list[tuple[str, float, int, int]]:
    return [spec for spec in INJECTIONS for _ in range(spec[3])]


def _place(rng: np.random.Generator, start: int, end: int) -> tuple[Injection, ...]:
    placed: list[Injection] = []
    for kind, _, duration, _ in _expanded():
        while True:
            slot = int(rng.integers(0, (end - duration - start) // STEP_SECONDS))
            candidate = Injection(
                kind, start + slot * STEP_SECONDS, start + slot * STEP_SECONDS + duration
            )
            if all(
                candidate.start >= other.end + MINIMUM_GAP
                or candidate.end + MINIMUM_GAP <= other.start
                for other in placed
            ):
                placed.append(candidate)
                break
    return tuple(placed)
