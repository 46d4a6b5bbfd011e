"""Uptime arithmetic, hourly rollups, retention and the round job."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from health.models import CheckResult, Service, StateChange, UptimeHour
from health.probes import ProbeResult
from health.selectors import heartbeat, latency_percentiles, percentile, uptime
from health.services import record_round, rollup_hours
from monitoring_site.jobs import job_by_name, run_cleanups

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def feed(service: Service, start: datetime, outcomes: str, *, step: int = 1) -> None:
    """One result per ``step`` minutes: u = up, d = degraded, x = down."""
    names = {"u": "up", "d": "degraded", "x": "down"}
    for index, letter in enumerate(outcomes):
        record_round(
            results={service.pk: ProbeResult(names[letter], latency_ms=10.0 + index)},
            checked_at=start + timedelta(minutes=index * step),
        )


def test_uptime_is_the_share_of_checks_that_answered(make_service: Callable[..., Service]) -> None:
    api = make_service("api")
    feed(api, T0, "uuudx" * 4)  # 20 checks, 4 down: degraded still answers
    assert uptime([api.pk], since=T0) == {api.pk: 0.8}


def test_uptime_spans_hours_and_windows(make_service: Callable[..., Service]) -> None:
    api = make_service("api")
    feed(api, T0 - timedelta(days=3), "x" * 10, step=6)  # 3 days ago: 1 hour fully down
    feed(api, T0, "u" * 30, step=2)  # today: 1 hour fully up
    assert uptime([api.pk], since=T0 - timedelta(hours=24)) == {api.pk: 1.0}
    assert uptime([api.pk], since=T0 - timedelta(days=7)) == {api.pk: 0.75}


def test_uptime_without_checks_is_unknown_not_zero(make_service: Callable[..., Service]) -> None:
    api = make_service("api")
    assert uptime([api.pk], since=T0) == {api.pk: None}


def test_rollups_count_each_hour_and_are_idempotent(make_service: Callable[..., Service]) -> None:
    api = make_service("api")
    feed(api, T0 + timedelta(minutes=50), "uuxxd" + "uu", step=3)  # crosses 10:00
    rollup_hours(start=T0)
    rollup_hours(start=T0)
    rows = [
        (r.hour, r.checks, r.up, r.degraded, r.down) for r in UptimeHour.objects.order_by("hour")
    ]
    assert rows == [
        (T0, 4, 2, 0, 2),
        (T0 + timedelta(hours=1), 3, 2, 1, 0),
    ]


def test_latency_percentiles_use_answered_checks_only(
    make_service: Callable[..., Service],
) -> None:
    api = make_service("api")
    feed(api, T0, "u" * 9 + "x")  # latencies 10..18 answered, the down one excluded
    found = latency_percentiles([api.pk], since=T0)
    assert found[api.pk] == {"p50": 14.0, "p95": 18.0}


@pytest.mark.parametrize(
    ("values", "fraction", "expected"),
    [
        ([], 0.5, None),
        ([7.0], 0.95, 7.0),
        ([1.0, 2.0, 3.0, 4.0], 0.5, 2.0),
        ([*range(1, 101)], 0.95, 95),
    ],
)
def test_percentiles_are_nearest_rank(values: list, fraction: float, expected: Any) -> None:
    assert percentile([float(v) for v in values], fraction) == expected


def test_the_heartbeat_has_24_hours_oldest_first_with_the_worst_outcome(
    make_service: Callable[..., Service],
) -> None:
    api = make_service("api")
    feed(api, T0 - timedelta(hours=2), "uu")
    feed(api, T0 - timedelta(hours=1), "ux")
    feed(api, T0, "ud")
    beats = heartbeat([api.pk], now=T0 + timedelta(minutes=30))[api.pk]
    assert len(beats) == 24
    assert beats[0]["hour"] == "2026-03-01T10:00:00Z"
    assert [b["state"] for b in beats[-4:]] == ["none", "up", "down", "degraded"]
    assert beats[-2]["uptime"] == 0.5


def test_cleanup_prunes_old_results_but_keeps_hourly_uptime_for_a_year(
    settings: Any, make_service: Callable[..., Service]
) -> None:
    settings.HEALTH_RESULT_RETENTION_DAYS = 30
    api = make_service("api", failure_threshold=1)
    feed(api, T0 - timedelta(days=40), "x")
    feed(api, T0 - timedelta(days=400), "u")
    feed(api, T0, "u")
    removed = run_cleanups(now=T0 + timedelta(hours=1))
    assert removed["health check results"] == 2
    assert removed["health uptime hours"] == 1
    assert list(CheckResult.objects.values_list("checked_at", flat=True)) == [T0]
    assert list(UptimeHour.objects.order_by("hour").values_list("hour", flat=True)) == [
        T0 - timedelta(days=40),
        T0,
    ]
    # State changes are kept for a year: the one 40 days ago stays.
    assert sorted(StateChange.objects.values_list("at", flat=True)) == [
        T0 - timedelta(days=40),
        T0,
    ]


def test_the_round_job_runs_every_interval(settings: Any) -> None:
    job = job_by_name("health.round")
    assert (job.func, job.minutes) == ("health.tasks.health_round", 1)
