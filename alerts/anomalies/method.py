"""Robust seasonal profiles, fitted once a day from a detector's history and scored cheaply.

A fitted :class:`Model` says, for any instant ``t``::

    expected(t) = profile[slot(t)] + level          band = expected(t) +/- k * sigma(hour(t))

- ``profile``: medians of the history per 5-minute slot (local time) of the day (daily), of the
  week (weekly), or a daily profile plus a smoother weekly correction of its residuals (both),
  each slot pooled with its neighbours; one median for no seasonality;
- ``level``: the median of the last 7 days' median residuals, so a lasting change of level is
  followed within days while up to three days of incidents barely move it;
- ``sigma``: 1.4826 x the median absolute residual per local hour of the day (pooled with the
  neighbouring hours), floored, and widened by the profile's own estimation error;
- ``k``: :func:`band_width` of the detector's sensitivity.

Medians and median absolute deviations ignore past anomalies while they cover less than half of
a slot's samples, so a past incident neither bends the profile nor widens the band.
See docs/anomalies.md.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

STEP_SECONDS = 300
DAY_SECONDS = 86_400
DAY_SLOTS = DAY_SECONDS // STEP_SECONDS
WEEK_SLOTS = 7 * DAY_SLOTS
SLOTS_PER_HOUR = 3_600 // STEP_SECONDS

SENSITIVITY_MIN = 1.0
SENSITIVITY_MAX = 10.0
DEFAULT_SENSITIVITY = 5.0

MAD_TO_SIGMA = 1.4826
LEVEL_DAYS = 14
SLOT_HALF_WIDTH = 2  # a slot's median pools +/- 10 minutes
WEEKLY_CORRECTION_HALF_WIDTH = 6  # +/- 30 minutes: the weekly part of "both" is smoother
HOUR_HALF_WIDTH = 1  # an hour's scale pools the hours either side
OUTLIER_CUT = 3.5  # residuals past 3.5 sigmas are left out of the scale's second pass
SCALE_FLOOR_OF_OVERALL = 0.25  # no hour's sigma under a quarter of the series' own
SCALE_FLOOR_OF_LEVEL = 0.005  # nor under 0.5 % of the series' typical magnitude
SCALE_FLOOR_ABSOLUTE = 1e-9
MINIMUM_COVERAGE = 0.5  # at least half of the required span must have points
BACKFIT_ROUNDS = 2
# Monday 00:00 local is slot 0: the epoch (1970-01-01) was a Thursday.
EPOCH_WEEKDAY_SHIFT = 3 * 86_400


class Seasonality(StrEnum):
    NONE = "none"
    DAILY = "daily"
    WEEKLY = "weekly"
    BOTH = "both"


class Direction(StrEnum):
    UP = "up"
    DOWN = "down"
    BOTH = "both"


_REQUIRED_HISTORY = {
    Seasonality.NONE: timedelta(days=1),
    Seasonality.DAILY: timedelta(days=3),
    # Three weeks: a one-day incident then covers a third of a weekly slot's samples, which
    # its median ignores; with two it would cover half of them.
    Seasonality.WEEKLY: timedelta(weeks=3),
    Seasonality.BOTH: timedelta(weeks=3),
}


def required_history(seasonality: Seasonality) -> timedelta:
    """The least history the method fits ``seasonality`` from (a detector may ask for more)."""
    return _REQUIRED_HISTORY[Seasonality(seasonality)]


def band_width(sensitivity: float) -> float:
    """The half-width of the band in robust sigmas: 7.4 at sensitivity 1, 5 at 5, 2 at 10."""
    if not SENSITIVITY_MIN <= sensitivity <= SENSITIVITY_MAX:
        raise ValueError(f"sensitivity must be between {SENSITIVITY_MIN:g} and {SENSITIVITY_MAX:g}")
    return 2.0 + (SENSITIVITY_MAX - sensitivity) * 0.6


@dataclass(frozen=True)
class History:
    """Points of one series: start of each 5-minute rollup (epoch seconds) and its value."""

    times: IntArray
    values: FloatArray

    @classmethod
    def of(cls, times: Iterable[int] | IntArray, values: Iterable[float] | FloatArray) -> History:
        return cls(np.asarray(times, dtype=np.int64), np.asarray(values, dtype=np.float64))

    @classmethod
    def from_points(cls, points: Iterable[tuple[datetime, float]]) -> History:
        pairs = list(points)
        return cls.of([int(at.timestamp()) for at, _ in pairs], [value for _, value in pairs])

    def before(self, end: int) -> History:
        """The points that start before ``end`` (epoch seconds) and have a value."""
        keep = (self.times < end) & np.isfinite(self.values)
        return History(self.times[keep], self.values[keep])

    def valued(self) -> History:
        """The points that have a value (a step without a rollup is NaN)."""
        keep = np.isfinite(self.values)
        return History(self.times[keep], self.values[keep])

    def between(self, start: int, end: int) -> History:
        keep = (self.times >= start) & (self.times < end)
        return History(self.times[keep], self.values[keep])


@dataclass(frozen=True)
class Learning:
    """Not enough history yet: the detector reports ``learning`` instead of guessing."""

    history: timedelta
    required: timedelta

    @property
    def message(self) -> str:
        return f"learning: {_days(self.history)} of history, {_days(self.required)} needed"


@dataclass(frozen=True)
class PointScore:
    """One point scored against a model: the band it was held to and how far outside it fell."""

    at: datetime
    observed: float
    expected: float
    lower: float
    upper: float
    score: float  # (observed - expected) / sigma: signed, in robust standard deviations
    anomalous: bool


@dataclass(frozen=True)
class ForecastPoint:
    at: datetime
    expected: float
    lower: float
    upper: float


@dataclass(frozen=True)
class Model:
    """A detector's fitted expectation and scale; cheap to evaluate at any instant."""

    seasonality: Seasonality
    timezone: str
    fitted_at: datetime
    profile: FloatArray  # 1, 288 or 2016 slots
    level: float
    scale: FloatArray  # sigma per local hour of the day (24)
    nonnegative: bool  # the history never went below zero: the band stops at 0

    def expected(self, times: IntArray) -> FloatArray:
        slots = _week_slots(times, self.timezone) % len(self.profile)
        return self.profile[slots] + self.level

    def sigma(self, times: IntArray) -> FloatArray:
        hours = (_week_slots(times, self.timezone) % DAY_SLOTS) // SLOTS_PER_HOUR
        return self.scale[hours]

    def band(self, times: IntArray, k: float) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Expected values, lower and upper bounds at ``times`` for a band of ``k`` sigmas."""
        expected, sigma = self.expected(times), self.sigma(times)
        lower = expected - k * sigma
        if self.nonnegative:
            lower = np.maximum(lower, 0.0)
        return expected, lower, expected + k * sigma

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form, for storing the model beside its detector."""
        return {
            "seasonality": str(self.seasonality),
            "timezone": self.timezone,
            "fitted_at": self.fitted_at.isoformat(),
            "profile": self.profile.tolist(),
            "level": self.level,
            "scale": self.scale.tolist(),
            "nonnegative": self.nonnegative,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Model:
        return cls(
            seasonality=Seasonality(data["seasonality"]),
            timezone=str(data["timezone"]),
            fitted_at=datetime.fromisoformat(data["fitted_at"]),
            profile=np.asarray(data["profile"], dtype=np.float64),
            level=float(data["level"]),
            scale=np.asarray(data["scale"], dtype=np.float64),
            nonnegative=bool(data["nonnegative"]),
        )


def fit(
    history: History,
    *,
    seasonality: Seasonality,
    now: datetime,
    timezone: str = "UTC",
    minimum_history: timedelta = timedelta(0),
) -> Model | Learning:
    """Fit a model from the points before ``now``, or say how much history is still missing."""
    end = int(now.timestamp())
    points = history.before(end)
    required = max(required_history(seasonality), minimum_history)
    learning = _learning(points, end=end, required=required)
    if learning is not None:
        return learning
    week = _week_slots(points.times, timezone)
    profile, samples = _profile(Seasonality(seasonality), week, points.values)
    residuals = points.values - profile[week % len(profile)]
    level = _level(points.times, residuals, end=end)
    residuals = residuals - level
    scale = _scale(residuals, week, points.values) * math.sqrt(1 + math.pi / (2 * samples))
    return Model(
        seasonality=Seasonality(seasonality),
        timezone=timezone,
        fitted_at=now,
        profile=profile,
        level=level,
        scale=scale,
        nonnegative=bool((points.values >= 0).all()),
    )


def score(
    model: Model, points: History, *, sensitivity: float, direction: Direction
) -> list[PointScore]:
    """Score each point against the model's band; only ``direction`` counts as anomalous.

    Points without a value (NaN: no rollup in that step) are left out.
    """
    k = band_width(sensitivity)
    points = points.valued()
    expected, lower, upper = model.band(points.times, k)
    z = (points.values - expected) / model.sigma(points.times)
    high = (points.values > upper) & (direction != Direction.DOWN)
    low = (points.values < lower) & (direction != Direction.UP)
    flags = high | low
    return [
        PointScore(
            at=datetime.fromtimestamp(int(points.times[i]), UTC),
            observed=float(points.values[i]),
            expected=float(expected[i]),
            lower=float(lower[i]),
            upper=float(upper[i]),
            score=float(z[i]),
            anomalous=bool(flags[i]),
        )
        for i in range(len(points.times))
    ]


def forecast(
    model: Model, *, start: datetime, sensitivity: float, hours: int = 24
) -> list[ForecastPoint]:
    """Expected value and band for every 5-minute step of the ``hours`` after ``start``."""
    first = int(start.timestamp()) // STEP_SECONDS * STEP_SECONDS
    times = first + STEP_SECONDS * np.arange(hours * SLOTS_PER_HOUR, dtype=np.int64)
    expected, lower, upper = model.band(times, band_width(sensitivity))
    return [
        ForecastPoint(
            at=datetime.fromtimestamp(int(times[i]), UTC),
            expected=float(expected[i]),
            lower=float(lower[i]),
            upper=float(upper[i]),
        )
        for i in range(len(times))
    ]


def _learning(points: History, *, end: int, required: timedelta) -> Learning | None:
    span = timedelta(seconds=end - int(points.times.min())) if len(points.times) else timedelta(0)
    needed = required.total_seconds() / STEP_SECONDS
    recent = np.count_nonzero(points.times >= end - int(required.total_seconds()))
    if span < required or recent < MINIMUM_COVERAGE * needed:
        return Learning(history=span, required=required)
    return None


def _profile(
    seasonality: Seasonality, week: IntArray, values: FloatArray
) -> tuple[FloatArray, float]:
    """The seasonal profile and the typical number of samples behind one of its slots."""
    if seasonality == Seasonality.NONE:
        return np.array([np.median(values)]), float(len(values))
    day = week % DAY_SLOTS
    if seasonality == Seasonality.DAILY:
        return _slot_medians(day, values, DAY_SLOTS, SLOT_HALF_WIDTH)
    if seasonality == Seasonality.WEEKLY:
        return _slot_medians(week, values, WEEK_SLOTS, SLOT_HALF_WIDTH)
    # Both: a daily profile over every day, and a smoother weekly correction of what it leaves,
    # refined in turn (backfitting, as MSTL does with its seasonal components).
    daily, daily_n = _slot_medians(day, values, DAY_SLOTS, SLOT_HALF_WIDTH)
    for _ in range(BACKFIT_ROUNDS):
        correction, weekly_n = _slot_medians(
            week, values - daily[day], WEEK_SLOTS, WEEKLY_CORRECTION_HALF_WIDTH
        )
        daily, daily_n = _slot_medians(day, values - correction[week], DAY_SLOTS, SLOT_HALF_WIDTH)
    return np.tile(daily, 7) + correction, 1 / (1 / daily_n + 1 / weekly_n)


def _level(times: IntArray, residuals: FloatArray, *, end: int) -> float:
    """The median of the last 7 days' median residuals (days counted back from ``end``).

    Each day's median is precise (288 points), so the median of seven of them is robust to up to
    three days of incidents, where the median of the points themselves would already lean.
    """
    age = (end - 1 - times) // DAY_SECONDS
    recent = age < LEVEL_DAYS
    days = np.unique(age[recent])
    if not len(days):
        return 0.0
    return float(np.median([np.median(residuals[recent & (age == day)]) for day in days]))


def _scale(residuals: FloatArray, week: IntArray, values: FloatArray) -> FloatArray:
    """Robust sigma of the residuals per local hour of the day, with floors."""
    hours = (week % DAY_SLOTS) // SLOTS_PER_HOUR
    size = np.abs(residuals)
    first, _ = _slot_medians(hours, size, 24, HOUR_HALF_WIDTH)
    # Again without the outliers of the first pass: past incidents (a day-long shift is a few
    # percent of the history) would otherwise still widen the band by a tenth.
    inliers = size <= OUTLIER_CUT * MAD_TO_SIGMA * first[hours]
    by_hour, _ = _slot_medians(hours[inliers], size[inliers], 24, HOUR_HALF_WIDTH)
    floor = max(
        SCALE_FLOOR_OF_OVERALL * _robust_sigma(residuals),
        SCALE_FLOOR_OF_LEVEL * float(np.median(np.abs(values))),
        SCALE_FLOOR_ABSOLUTE,
    )
    return np.maximum(by_hour * MAD_TO_SIGMA, floor)


def _robust_sigma(residuals: FloatArray) -> float:
    mad = float(np.median(np.abs(residuals))) * MAD_TO_SIGMA
    if mad > 0:
        return mad
    # More than half the residuals are exactly zero (a mostly constant series): the mean
    # absolute deviation still sees the rest.
    return float(np.mean(np.abs(residuals))) * math.sqrt(math.pi / 2)


def _slot_medians(
    slots: IntArray, values: FloatArray, size: int, half_width: int
) -> tuple[FloatArray, float]:
    """Median per slot of ``values``, each slot pooling ``half_width`` neighbours either side.

    Returns the medians (slots without samples interpolated from their neighbours, circularly)
    and the median number of samples per slot.
    """
    shifts = np.arange(-half_width, half_width + 1)
    groups = ((slots[np.newaxis, :] + shifts[:, np.newaxis]) % size).ravel()
    pooled = np.tile(values, len(shifts))
    order = np.lexsort((pooled, groups))
    groups, pooled = groups[order], pooled[order]
    counts = np.bincount(groups, minlength=size)
    starts = np.cumsum(counts) - counts
    have = counts > 0
    lo = starts[have] + (counts[have] - 1) // 2
    hi = starts[have] + counts[have] // 2
    medians = np.full(size, np.nan)
    medians[have] = (pooled[lo] + pooled[hi]) / 2
    if not have.all():
        index = np.arange(size)
        medians = np.interp(index, index[have], medians[have], period=size)
    return medians, float(np.median(counts))


def _week_slots(times: IntArray, timezone: str) -> IntArray:
    """The 5-minute slot of the local week (Monday 00:00 is 0) of each instant."""
    local = times + _utc_offsets(times, timezone)
    return ((local + EPOCH_WEEKDAY_SHIFT) // STEP_SECONDS) % WEEK_SLOTS


def _utc_offsets(times: IntArray, timezone: str) -> IntArray:
    if timezone == "UTC":
        return np.zeros_like(times)
    # Offsets change on whole hours (daylight saving), so one look-up per distinct hour.
    zone = ZoneInfo(timezone)
    hours, inverse = np.unique(times // 3600, return_inverse=True)
    offsets = np.array(
        [_offset_seconds(datetime.fromtimestamp(int(h) * 3600, zone)) for h in hours],
        dtype=np.int64,
    )
    return offsets[inverse]


def _offset_seconds(moment: datetime) -> int:
    offset = moment.utcoffset()
    return int(offset.total_seconds()) if offset is not None else 0


def _days(span: timedelta) -> str:
    return f"{span.total_seconds() / 86_400:.1f} days"
