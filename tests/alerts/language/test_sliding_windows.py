"""Sliding windows over 10-second buckets, with PromQL's extrapolation (issue #19)."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

import pytest

from alerts.language import evaluate
from alerts.language.planner import extrapolated_increase
from alerts.language.tree import Vector
from metrics_app.aggregation import prune_fine_buckets
from metrics_app.catalogue import get_metric
from metrics_app.ingest import Sample
from metrics_app.models import Bucket, FineBucket
from metrics_app.selectors import FineFold
from metrics_app.services import store_samples
from tests.alerts.conftest import T0

pytestmark = pytest.mark.django_db
ERRORS = {"service": "payment", "type": "db"}
QUEUE = {"service": "queue", "queue": "mint"}


def push(metric: str, labels: dict[str, str], value: float, at: datetime) -> None:
    spec = get_metric(metric)
    assert spec is not None
    store_samples(samples=[Sample(spec, dict(labels), (value,), at)], now=at)


def value_of(expression: str, at: datetime) -> float:
    result = evaluate(expression, at=at)
    assert isinstance(result, Vector) and len(result.samples) == 1, result
    return result.samples[0].value


def steady_errors(start: datetime, end: datetime, every: int = 5) -> None:
    """One error every ``every`` seconds from ``start`` to ``end`` (a rate of 1/every per s)."""
    moment = start
    while moment <= end:
        push("errors_total", ERRORS, 1, moment)
        moment += timedelta(seconds=every)


def test_increase_over_a_steady_rate_is_the_rate_times_the_window_at_any_instant(
    clock: Any,
) -> None:
    steady_errors(T0 - timedelta(minutes=10), T0 + timedelta(minutes=2))
    for seconds in (0, 7, 15, 33, 45, 59):  # any phase against minutes and buckets
        at = T0 + timedelta(seconds=seconds)
        clock.move_to(at)
        assert value_of("increase(errors_total[2m])", at) == pytest.approx(24, rel=0.05)
        assert value_of("rate(errors_total[2m])", at) == pytest.approx(0.2, rel=0.05)


def test_a_window_holds_the_last_two_minutes_not_whole_minutes(clock: Any) -> None:
    # A burst 125 s before the instant: outside [2m]. The minute-aligned window (12:58:00 to
    # the instant, 2.5 minutes) counted it.
    at = T0 + timedelta(seconds=5)  # 09:00:35
    push("errors_total", ERRORS, 1, at - timedelta(minutes=10))  # the series exists
    push("errors_total", ERRORS, 50, at - timedelta(seconds=125))
    clock.move_to(at)
    assert value_of("increase(errors_total[2m])", at) == 0.0
    assert value_of("increase(errors_total[3m])", at) > 50


def test_samples_after_the_instant_are_not_read(clock: Any) -> None:
    push("queue_size", QUEUE, 10, T0 - timedelta(seconds=30))
    push("queue_size", QUEUE, 900, T0 + timedelta(seconds=3))
    clock.move_to(T0 + timedelta(seconds=20))
    assert value_of("max_over_time(queue_size[1m])", T0) == 10
    assert value_of("max_over_time(queue_size[1m])", T0 + timedelta(seconds=5)) == 900


def test_a_gauge_spike_leaves_max_over_time_two_minutes_after_it(clock: Any) -> None:
    for second in range(0, 300, 10):
        value = 5000 if second == 100 else 100
        push("queue_size", QUEUE, value, T0 + timedelta(seconds=second))
    clock.move_to(T0 + timedelta(minutes=5))
    spike = T0 + timedelta(seconds=100)
    assert value_of("max_over_time(queue_size[2m])", spike + timedelta(seconds=119)) == 5000
    assert value_of("max_over_time(queue_size[2m])", spike + timedelta(seconds=121)) == 100
    avg = value_of("avg_over_time(queue_size[1m])", T0 + timedelta(seconds=60))
    assert avg == 100  # samples at +10 ... +60 s: six of them


def test_a_counter_born_inside_the_window_counts_exactly_what_it_received(clock: Any) -> None:
    push("errors_total", ERRORS, 3, T0 - timedelta(seconds=30))
    push("errors_total", ERRORS, 4, T0 - timedelta(seconds=10))
    clock.move_to(T0)
    assert value_of("increase(errors_total[2m])", T0) == 7


def test_a_counter_quiet_in_the_window_increased_by_zero(clock: Any) -> None:
    push("errors_total", ERRORS, 3, T0 - timedelta(minutes=30))
    clock.move_to(T0)
    assert value_of("increase(errors_total[2m])", T0) == 0


def test_the_extrapolation_is_prometheus_extrapolated_rate() -> None:
    # Window (100, 220]: boundaries 110 ... 220, 12 samples 10 s apart; the bucket at 100 was
    # read because its last sample came after 100, its 4 increments lie before the first sample.
    fold = FineFold(labels={}, created=0.0, points=12, total=4 + 11 * 2, first_start=100.0,
                    first_sum=4.0)  # fmt: skip
    assert extrapolated_increase(fold, start=100.0, end=220.0) == pytest.approx(22 * 120 / 110)
    # A gap to the start of more than 1.1 average intervals extrapolates by half an interval.
    sparse = FineFold(labels={}, created=0.0, points=2, total=10, first_start=210.0)
    assert extrapolated_increase(sparse, start=205.0, end=225.0) == pytest.approx(10 * 20 / 15)


def test_ingest_writes_ten_second_buckets_for_the_last_hour_and_the_job_prunes_them(
    clock: Any,
) -> None:
    push("errors_total", ERRORS, 1, T0 + timedelta(seconds=3))
    push("errors_total", ERRORS, 2, T0 + timedelta(seconds=8))
    push("errors_total", ERRORS, 4, T0 + timedelta(seconds=12))
    rows = list(FineBucket.objects.order_by("start").values_list("start", "count", "sum"))
    assert rows == [(T0, 2, 3.0), (T0 + timedelta(seconds=10), 1, 4.0)]
    assert Bucket.objects.get().sum == 7.0  # the minute bucket holds them all
    assert prune_fine_buckets(now=T0 + timedelta(minutes=64)) == 0
    assert prune_fine_buckets(now=T0 + timedelta(minutes=65, seconds=11)) == 2
    assert Bucket.objects.get().sum == 7.0


def test_windows_reaching_before_the_fine_buckets_read_minute_buckets(clock: Any) -> None:
    steady_errors(T0 - timedelta(minutes=10), T0)
    clock.move_to(T0)
    # [2h] starts before the fine retention: minute buckets, whole minutes, no extrapolation.
    assert value_of("increase(errors_total[2h])", T0) == 121
    assert math.isclose(value_of("increase(errors_total[5m])", T0), 60, rel_tol=0.05)
