"""Walking a detector forward through the last 2 weeks as the job would, and scoring per event.

A fit at every day's start (from the history before it), then a scoring run every 10 minutes
over the points completed since the previous run (a 5-minute point starting at ``t`` is complete
at ``t + 5 min``). Scoring per event (issue #16): an injected anomaly is found when any point
inside it is flagged; each run of consecutive flagged points outside every injected anomaly is
one false alarm; the delay is from an anomaly's start to the scoring run that first flagged it.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

import numpy as np

from alerts.anomalies import (
    DEFAULT_SENSITIVITY,
    STEP_SECONDS,
    Direction,
    History,
    Learning,
    Model,
    Seasonality,
    fit,
    score,
)
from tests.alerts.anomalies.generator import DAY, Synthetic

SCORING_INTERVAL = 600


class Detector(Protocol):
    def refit(self, history: History, now: int) -> None:
        """The daily fit, from the points completed before ``now``."""

    def flag(self, completed: History, new: History) -> np.ndarray:
        """Which of the ``new`` points are anomalous; ``completed`` holds them and all before."""


class MethodDetector:
    """The method under test: a daily fit, points scored against it."""

    def __init__(
        self,
        seasonality: Seasonality = Seasonality.BOTH,
        sensitivity: float = DEFAULT_SENSITIVITY,
        direction: Direction = Direction.BOTH,
    ) -> None:
        self.seasonality, self.sensitivity, self.direction = seasonality, sensitivity, direction
        self.model: Model | None = None

    def refit(self, history: History, now: int) -> None:
        fitted = fit(history, seasonality=self.seasonality, now=datetime.fromtimestamp(now, UTC))
        assert not isinstance(fitted, Learning), fitted.message
        self.model = fitted

    def flag(self, completed: History, new: History) -> np.ndarray:
        assert self.model is not None
        scores = score(self.model, new, sensitivity=self.sensitivity, direction=self.direction)
        return np.array([point.anomalous for point in scores], dtype=bool)


@dataclass(frozen=True)
class Walk:
    """Which evaluated points were flagged, and when (the scoring run's time)."""

    times: np.ndarray
    flagged: np.ndarray
    flagged_at: np.ndarray


def walk_forward(series: Synthetic, detector: Detector) -> Walk:
    history = series.history
    end = int(history.times[-1]) + STEP_SECONDS
    flagged_at = np.full(len(history.times), -1, dtype=np.int64)
    for day in range(series.evaluation_start, end, DAY):
        detector.refit(history.before(day), day)
        for run in range(day + SCORING_INTERVAL, min(day + DAY, end) + 1, SCORING_INTERVAL):
            done = history.times + STEP_SECONDS <= run
            new = done & (history.times + STEP_SECONDS > run - SCORING_INTERVAL)
            flags = detector.flag(_select(history, done), _select(history, new))
            flagged_at[np.flatnonzero(new)[flags]] = run
    evaluated = history.times >= series.evaluation_start
    return Walk(history.times[evaluated], flagged_at[evaluated] >= 0, flagged_at[evaluated])


@dataclass(frozen=True)
class Outcome:
    found: int
    injected: int
    false_alarms: int
    delays: tuple[int, ...]  # seconds, one per found anomaly

    @property
    def recall(self) -> float:
        return self.found / self.injected if self.injected else 1.0

    @property
    def precision(self) -> float:
        alarms = self.found + self.false_alarms
        return self.found / alarms if alarms else 1.0

    @property
    def f1(self) -> float:
        total = self.precision + self.recall
        return 2 * self.precision * self.recall / total if total else 0.0

    @property
    def median_delay(self) -> float | None:
        return statistics.median(self.delays) if self.delays else None

    def __add__(self, other: Outcome) -> Outcome:
        return Outcome(
            self.found + other.found,
            self.injected + other.injected,
            self.false_alarms + other.false_alarms,
            self.delays + other.delays,
        )


def evaluate(series: Synthetic, walk: Walk) -> Outcome:
    inside = np.zeros(len(walk.times), dtype=bool)
    delays = []
    for injection in series.injections:
        covered = injection.covers(walk.times)
        inside |= covered
        hits = walk.flagged_at[covered & walk.flagged]
        if len(hits):
            delays.append(int(hits.min()) - injection.start)
    outside = walk.flagged & ~inside
    # A run starts at every flagged point whose predecessor is not a flagged outside point.
    starts = outside & ~np.concatenate(([False], outside[:-1]))
    return Outcome(len(delays), len(series.injections), int(starts.sum()), tuple(delays))


def _select(history: History, keep: np.ndarray) -> History:
    return History(history.times[keep], history.values[keep])
