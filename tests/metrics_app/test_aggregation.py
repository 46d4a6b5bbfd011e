"""Rollups from minute buckets (arithmetic, late samples, idempotence) and retention."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine

from metrics_app.aggregation import aggregate_rollups
from metrics_app.catalogue import get_metric
from metrics_app.ingest import Sample
from metrics_app.models import Bucket, Rollup, Series
from metrics_app.services import store_samples
from monitoring_site.jobs import all_cleanups, all_jobs, run_cleanups

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 11, 29, 10, 0, tzinfo=UTC)


def put(metric: str, value: float, at: datetime, **labels: str) -> None:
    spec = get_metric(metric)
    assert spec is not None
    store_samples(samples=[Sample(spec, labels, (value,), at)], now=at)


def rollups(resolution: int, name: str = "queue_size") -> list[tuple[Any, ...]]:
    rows = Rollup.objects.filter(series__name=name, resolution=resolution).order_by("start")
    return [(r.start, r.count, r.sum, r.min, r.max, r.last) for r in rows]


def test_five_minute_and_hourly_rollups_fold_the_buckets() -> None:
    for minute, value in [(0, 4), (1, 2), (4, 9), (5, 1), (59, 3)]:
        put("queue_size", value, T0 + timedelta(minutes=minute, seconds=10), queue="q")
    put("queue_size", 6, T0 + timedelta(minutes=4, seconds=5), queue="q")
    aggregate_rollups(now=T0 + timedelta(hours=1, minutes=1))
    assert rollups(300) == [
        (T0, 4, 21.0, 2.0, 9.0, 9.0),
        (T0 + timedelta(minutes=5), 1, 1.0, 1.0, 1.0, 1.0),
        (T0 + timedelta(minutes=55), 1, 3.0, 3.0, 3.0, 3.0),
    ]
    assert rollups(3600) == [(T0, 6, 25.0, 1.0, 9.0, 3.0)]


def test_counter_rollups_sum_the_increments() -> None:
    for minute in range(12):
        put("tickets_sold_total", 2, T0 + timedelta(minutes=minute), service="ticket")
    aggregate_rollups(now=T0 + timedelta(minutes=13))
    sums = [row[2] for row in rollups(300, "tickets_sold_total")]
    assert sums == [10.0, 10.0, 4.0]
    assert rollups(3600, "tickets_sold_total")[0][2] == 24.0


def test_a_late_sample_changes_its_period_on_the_next_run() -> None:
    put("tickets_sold_total", 1, T0 + timedelta(minutes=1), service="ticket")
    aggregate_rollups(now=T0 + timedelta(minutes=6))
    # 50 minutes later a sample for minute 2 arrives (within the accepted hour).
    put("tickets_sold_total", 5, T0 + timedelta(minutes=2), service="ticket")
    aggregate_rollups(now=T0 + timedelta(minutes=56))
    assert rollups(300, "tickets_sold_total")[0][1:3] == (2, 6.0)


def test_running_the_aggregation_twice_changes_nothing() -> None:
    for minute in range(0, 30, 3):
        put("queue_size", minute, T0 + timedelta(minutes=minute), queue="q")
    now = T0 + timedelta(minutes=31)
    first = aggregate_rollups(now=now)
    before = list(Rollup.objects.order_by("id").values())
    Rollup.objects.update(exported=True)
    second = aggregate_rollups(now=now)
    after = list(Rollup.objects.order_by("id").values())
    assert first["300s"] == 6 and second == {"300s": 0, "3600s": 0}
    assert [dict(row, exported=False) for row in after] == before


def test_a_recomputed_period_is_marked_for_export_again() -> None:
    put("queue_size", 1, T0, queue="q")
    aggregate_rollups(now=T0 + timedelta(minutes=5))
    Rollup.objects.update(exported=True)
    put("queue_size", 8, T0 + timedelta(minutes=1), queue="q")
    aggregate_rollups(now=T0 + timedelta(minutes=10))
    assert list(Rollup.objects.filter(resolution=300).values_list("max", "exported")) == [
        (8.0, False)
    ]


def test_after_an_outage_every_period_since_the_last_rollup_is_computed() -> None:
    put("queue_size", 1, T0, queue="q")
    aggregate_rollups(now=T0 + timedelta(minutes=5))
    # The job did not run for three hours; buckets kept arriving.
    for hour in (1, 2, 3):
        put("queue_size", hour, T0 + timedelta(hours=hour), queue="q")
    aggregate_rollups(now=T0 + timedelta(hours=3, minutes=5))
    starts = [row[0] for row in rollups(3600)]
    assert starts == [T0 + timedelta(hours=h) for h in range(4)]


def test_the_aggregation_job_runs_every_five_minutes_and_host_metrics_every_minute() -> None:
    jobs = {job.name: job for job in all_jobs()}
    assert jobs["metrics.aggregate"].minutes == 5
    assert jobs["metrics.host"].minutes == 1


def test_host_metrics_are_stored_like_any_other_series() -> None:
    from metrics_app.host import sample_host

    assert sample_host(now=T0, cpu_interval=0) == 3
    names = set(Series.objects.values_list("name", flat=True))
    assert names == {
        "system_cpu_usage_percent",
        "system_memory_usage_percent",
        "system_disk_usage_percent",
    }
    memory = Series.objects.get(name="system_memory_usage_percent")
    assert 0 < memory.value <= 100 and memory.kind == "gauge"


# --- retention -----------------------------------------------------------------------------------


def test_retention_keeps_buckets_48h_rollups_35_and_400_days_and_idle_series_35_days() -> None:
    now = datetime(2027, 1, 1, tzinfo=UTC)
    put("queue_size", 1, now - timedelta(days=30), queue="idle-30d")
    put("queue_size", 1, now - timedelta(days=36), queue="idle-36d")
    busy = Series.objects.get(labels_key__contains="idle-30d")
    make_bucket(busy, now - timedelta(hours=47))
    make_bucket(busy, now - timedelta(hours=49))
    for resolution, days in ((300, 34), (300, 36), (3600, 399), (3600, 401)):
        make_rollup(busy, resolution, now - timedelta(days=days))
    with time_machine.travel(now, tick=False):
        removed = run_cleanups(now=now)
    assert removed["idle metric series"] == 1
    assert set(Series.objects.values_list("labels__queue", flat=True)) == {"idle-30d"}
    ages = sorted((now - b.start).total_seconds() / 3600 for b in Bucket.objects.all())
    assert ages == [47.0]
    kept = sorted((r.resolution, (now - r.start).days) for r in Rollup.objects.filter(series=busy))
    assert kept == [(300, 34), (3600, 399)]


def test_retention_periods_are_configurable(settings: Any) -> None:
    settings.METRICS_BUCKET_RETENTION_HOURS = 2
    by_name = {cleanup.name: cleanup for cleanup in all_cleanups()}
    assert by_name["metric buckets (1 minute)"].retention() == timedelta(hours=2)


def make_bucket(series: Series, start: datetime) -> None:
    Bucket.objects.create(series=series, start=start, count=1, sum=1, min=1, max=1, last=1,
                          last_at=start)  # fmt: skip


def make_rollup(series: Series, resolution: int, start: datetime) -> None:
    Rollup.objects.create(series=series, resolution=resolution, start=start, count=1, sum=1,
                          min=1, max=1, last=1, last_at=start)  # fmt: skip
