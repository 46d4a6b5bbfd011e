"""The quality test's own parts: the series is the issue's, and events are counted as it says."""

from __future__ import annotations

from collections import Counter
from itertools import pairwise

import numpy as np

from alerts.anomalies import STEP_SECONDS, History
from tests.alerts.anomalies.generator import DAY, MEAN, WEEK, Injection, Synthetic, generate
from tests.alerts.anomalies.walk import Walk, evaluate


def test_five_weeks_of_five_minute_points_with_ten_injections_in_the_last_two() -> None:
    series = generate(1)

    times = series.history.times
    assert len(times) == 5 * WEEK // STEP_SECONDS
    assert set(np.diff(times)) == {STEP_SECONDS}
    assert series.evaluation_start == times[0] + 3 * WEEK
    kinds = Counter((i.kind, i.end - i.start) for i in series.injections)
    assert kinds == {("spike", 1_800): 4, ("drop", 3_600): 3, ("level shift", DAY): 3}
    spans = sorted((i.start, i.end) for i in series.injections)
    assert spans[0][0] >= series.evaluation_start and spans[-1][1] <= times[-1] + STEP_SECONDS
    assert all(later[0] - earlier[1] >= 6 * 3_600 for earlier, later in pairwise(spans))


def test_injections_multiply_the_same_noisy_series_and_the_cycles_span_40_to_160_percent() -> None:
    injected, clean = generate(4), generate(4, inject=False)

    ratio = injected.history.values / clean.history.values
    factors = {"spike": 1.6, "drop": 0.5, "level shift": 1.4}
    for injection in injected.injections:
        assert np.allclose(ratio[injection.covers(injected.history.times)], factors[injection.kind])
    untouched = ~np.any([i.covers(injected.history.times) for i in injected.injections], axis=0)
    assert np.all(ratio[untouched] == 1.0)
    hourly = clean.history.values.reshape(-1, 12).mean(axis=1)
    assert 0.35 * MEAN < hourly.min() < 0.45 * MEAN
    assert 1.55 * MEAN < hourly.max() < 1.65 * MEAN
    assert generate(4).history.values.tolist() == injected.history.values.tolist()  # seeded


def test_an_event_counts_once_and_each_run_of_flags_outside_events_is_one_false_alarm() -> None:
    times = np.arange(20, dtype=np.int64) * STEP_SECONDS
    events = (Injection("spike", 2 * STEP_SECONDS, 4 * STEP_SECONDS),
              Injection("drop", 10 * STEP_SECONDS, 12 * STEP_SECONDS))  # fmt: skip
    series = Synthetic(History(times, np.zeros(20)), events, evaluation_start=0)
    flagged = np.zeros(20, dtype=bool)
    flagged[[2, 3, 6, 7, 15, 17]] = True
    flagged_at = np.where(flagged, times + 2 * STEP_SECONDS, -1)

    outcome = evaluate(series, Walk(times, flagged, flagged_at))

    assert (outcome.found, outcome.injected, outcome.false_alarms) == (1, 2, 3)
    assert outcome.delays == (2 * STEP_SECONDS,)
    assert outcome.recall == 0.5 and outcome.precision == 0.25
