"""The anomaly method: the issue's quality bar, learning, robustness, directions and forecasts."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from alerts.anomalies import (
    STEP_SECONDS,
    Direction,
    History,
    Learning,
    Model,
    Seasonality,
    band_width,
    fit,
    forecast,
    score,
)
from tests.alerts.anomalies.generator import DAY, MEAN, NOISE, WEEK, generate
from tests.alerts.anomalies.walk import MethodDetector, evaluate, walk_forward

SEEDS = (1, 2, 3)
SIGMA = NOISE * MEAN


def at(epoch: int) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def fitted(
    history: History,
    now: int,
    seasonality: Seasonality = Seasonality.BOTH,
    timezone: str = "UTC",
) -> Model:
    model = fit(history, seasonality=seasonality, now=at(now), timezone=timezone)
    assert isinstance(model, Model), model
    return model


@pytest.mark.parametrize("seed", SEEDS)
def test_walking_forward_finds_the_injected_anomalies_with_few_false_alarms(seed: int) -> None:
    series = generate(seed)

    outcome = evaluate(series, walk_forward(series, MethodDetector()))

    assert outcome.injected == 10
    assert outcome.recall >= 0.85, outcome
    assert outcome.precision >= 0.85, outcome


@pytest.mark.parametrize("seed", SEEDS)
def test_the_same_series_without_injections_raises_no_alarm_at_all(seed: int) -> None:
    series = generate(seed, inject=False)

    walk = walk_forward(series, MethodDetector())

    assert series.injections == ()
    assert not walk.flagged.any(), [at(int(t)) for t in walk.times[walk.flagged]]
    assert len(walk.times) == 2 * WEEK // STEP_SECONDS


def test_a_weekly_detector_with_two_weeks_of_history_is_learning() -> None:
    series = generate(1)
    now = int(series.history.times[0]) + 2 * WEEK

    result = fit(series.history, seasonality=Seasonality.WEEKLY, now=at(now))

    assert result == Learning(history=timedelta(weeks=2), required=timedelta(weeks=3))
    assert result.message == "learning: 14.0 days of history, 21.0 days needed"


def test_a_detector_may_ask_for_more_history_than_its_seasonality_needs() -> None:
    series = generate(1)
    now = int(series.history.times[0]) + 4 * DAY

    assert isinstance(fit(series.history, seasonality=Seasonality.DAILY, now=at(now)), Model)
    result = fit(
        series.history,
        seasonality=Seasonality.DAILY,
        now=at(now),
        minimum_history=timedelta(days=7),
    )
    assert result == Learning(history=timedelta(days=4), required=timedelta(days=7))


def test_a_history_mostly_missing_in_the_required_span_is_learning() -> None:
    series = generate(1)
    now = int(series.history.times[0]) + 4 * DAY
    sparse = History(series.history.times[::3], series.history.values[::3])

    result = fit(sparse, seasonality=Seasonality.DAILY, now=at(now))

    assert isinstance(result, Learning)


def test_the_fit_sees_only_points_before_now() -> None:
    series = generate(1)
    now = series.evaluation_start
    future = series.history.times >= now
    values = np.where(future, 1e9, series.history.values)

    spoiled = fitted(History(series.history.times, values), now)

    honest = fitted(series.history, now)
    assert np.array_equal(spoiled.profile, honest.profile)
    assert np.array_equal(spoiled.scale, honest.scale)
    assert spoiled.level == honest.level


def test_past_anomalies_neither_bend_the_expectation_nor_widen_the_band() -> None:
    clean, injected = generate(2, inject=False), generate(2)
    now = int(clean.history.times[-1]) + STEP_SECONDS  # every injection is in the history

    calm, scarred = fitted(clean.history, now), fitted(injected.history, now)

    next_day = now + STEP_SECONDS * np.arange(DAY // STEP_SECONDS)
    shift = np.abs(scarred.expected(next_day) - calm.expected(next_day))
    assert shift.max() < 0.5 * SIGMA
    assert np.all(scarred.sigma(next_day) < 1.15 * calm.sigma(next_day))
    assert np.all(np.abs(calm.sigma(next_day) / SIGMA - 1) < 0.15)


def test_an_up_detector_ignores_a_drop_and_a_down_detector_ignores_a_spike() -> None:
    series = generate(1, inject=False)
    now = series.evaluation_start
    model = fitted(series.history, now)
    times = now + STEP_SECONDS * np.arange(3, dtype=np.int64)
    expected = model.expected(times)
    points = History(times, expected * np.array([1.0, 1.6, 0.5]))

    up = score(model, points, sensitivity=5, direction=Direction.UP)
    down = score(model, points, sensitivity=5, direction=Direction.DOWN)
    both = score(model, points, sensitivity=5, direction=Direction.BOTH)

    assert [p.anomalous for p in up] == [False, True, False]
    assert [p.anomalous for p in down] == [False, False, True]
    assert [p.anomalous for p in both] == [False, True, True]
    assert both[1].score > 5 and both[2].score < -5
    assert both[0].expected == pytest.approx(expected[0])
    assert both[0].lower < both[0].expected < both[0].upper
    assert both[1].at == at(now + STEP_SECONDS)
    assert both[1].observed == pytest.approx(1.6 * expected[1])


def test_a_higher_sensitivity_narrows_the_band_and_out_of_range_is_refused() -> None:
    assert band_width(1) > band_width(5) > band_width(10)
    assert band_width(5) == 5.0
    for wrong in (0.5, 10.5):
        with pytest.raises(ValueError, match="sensitivity must be between 1 and 10"):
            band_width(wrong)


def test_the_forecast_follows_the_cycles_for_the_next_24_hours() -> None:
    series = generate(3, inject=False)
    now = series.evaluation_start + 3 * DAY + 7 * 60  # not on the 5-minute grid
    model = fitted(series.history, now)

    points = forecast(model, start=at(now), sensitivity=5)

    assert len(points) == 288
    assert points[0].at == at(now - 2 * 60)  # the 5-minute step under way
    assert points[-1].at - points[0].at == timedelta(hours=24) - timedelta(minutes=5)
    first = int(points[0].at.timestamp())
    observed = series.history.between(first, first + DAY)
    expected = np.array([p.expected for p in points])
    assert np.median(np.abs(observed.values - expected)) < SIGMA
    assert all(p.lower <= v <= p.upper for p, v in zip(points, observed.values, strict=True))


def test_a_model_survives_a_json_round_trip() -> None:
    series = generate(1)
    model = fitted(series.history, series.evaluation_start)
    again = Model.from_dict(json.loads(json.dumps(model.to_dict())))
    window = series.history.between(series.evaluation_start, series.evaluation_start + DAY)

    assert score(again, window, sensitivity=5, direction=Direction.BOTH) == score(
        model, window, sensitivity=5, direction=Direction.BOTH
    )


def test_a_constant_series_flags_any_change_without_dividing_by_zero() -> None:
    times = np.arange(0, 2 * DAY, STEP_SECONDS, dtype=np.int64)
    model = fitted(History(times, np.zeros(len(times))), 2 * DAY, seasonality=Seasonality.NONE)
    points = History.of([2 * DAY, 2 * DAY + STEP_SECONDS], [0.0, 0.01])

    scores = score(model, points, sensitivity=5, direction=Direction.BOTH)

    assert [p.anomalous for p in scores] == [False, True]
    assert scores[0].lower == 0.0  # a series that never went negative keeps its band at 0 or more
    assert all(np.isfinite(p.score) for p in scores)


def test_points_without_a_value_are_not_scored() -> None:
    series = generate(1)
    model = fitted(series.history, series.evaluation_start)
    t = series.evaluation_start
    points = History.of([t, t + STEP_SECONDS, t + 2 * STEP_SECONDS], [900.0, np.nan, 3000.0])

    scores = score(model, points, sensitivity=5, direction=Direction.BOTH)

    assert [(p.at, p.anomalous) for p in scores] == [
        (at(t), False),
        (at(t + 2 * STEP_SECONDS), True),
    ]


def test_seasons_follow_local_time_across_a_daylight_saving_change() -> None:
    # Busy at 18:00 in Paris every day, before and after clocks go forward on 29 March 2026.
    first = int(datetime(2026, 3, 16, tzinfo=UTC).timestamp())
    times = first + STEP_SECONDS * np.arange(16 * DAY // STEP_SECONDS, dtype=np.int64)
    paris = np.array([t + (7200 if t >= 1774746000 else 3600) for t in times])
    hours_from_peak = (paris % DAY - 18 * 3600) / 3600
    values = MEAN * (1 + np.exp(-(hours_from_peak**2) / 2))
    values += np.random.default_rng(7).normal(0, SIGMA, len(times))
    history = History(times, values)
    now = first + 14 * DAY  # 30 March: the last day and a half are in summer time
    after = history.between(now, now + 2 * DAY)

    def alarms(timezone: str) -> int:
        model = fitted(history, now, seasonality=Seasonality.DAILY, timezone=timezone)
        return sum(
            p.anomalous for p in score(model, after, sensitivity=5, direction=Direction.BOTH)
        )

    assert alarms("Europe/Paris") == 0
    assert alarms("UTC") > 0
