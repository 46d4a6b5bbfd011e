"""GET /api/v1/monitoring/workers: every declared job's record and the worker cluster (#14)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from monitoring_site.jobs import all_jobs, install_schedules, run_job
from monitoring_site.models import JobRun

pytestmark = pytest.mark.django_db

URL = "/api/v1/monitoring/workers"
START = datetime(2026, 3, 10, 12, 0, 5, tzinfo=UTC)


def explode() -> None:
    raise RuntimeError("the upstream answered 502")


@pytest.fixture
def viewer_client(viewer: Any) -> APIClient:
    """A signed-in viewer whose session outlives the moved clock (a JWT would expire)."""
    client = APIClient()
    client.force_authenticate(viewer)
    return client


@pytest.fixture
def empty_broker() -> Iterator[Any]:
    """The broker as a fresh cluster finds it. Its queue is shared by every test of an xdist
    worker (ORM rows or a Redis list), so a depth asserted exactly starts from an empty one."""
    from django_q.brokers import get_broker

    broker = get_broker()
    broker.purge_queue()
    yield broker
    broker.purge_queue()


def by_name(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {job["name"]: job for job in body["jobs"]}


def run_at(moment: datetime, name: str, func: Any = None) -> None:
    with time_machine.travel(moment, tick=False):
        try:
            run_job(name, func or (lambda: "ok"))
        except RuntimeError:
            pass


@pytest.fixture
def history() -> None:
    """Ten minutes of a healthy, a failing and a stuck job (its last run 9 minutes ago)."""
    for minute in range(10):
        moment = START + timedelta(minutes=minute)
        run_at(moment, "metrics.host")
        run_at(moment, "alerts.notify.sweep", explode)
    run_at(START, "alerts.notify.escalate")


def test_every_declared_job_is_listed_with_its_schedule(viewer_client: APIClient) -> None:
    body = viewer_client.get(URL).json()
    jobs = by_name(body)
    assert sorted(jobs) == sorted(job.name for job in all_jobs())
    assert jobs["site.cleanup"]["schedule"] == {"every_minutes": None, "cron": "0 2 * * *"}
    assert jobs["metrics.host"]["schedule"] == {"every_minutes": 1, "cron": None}
    assert jobs["metrics.host"]["last_run"] is None
    assert jobs["metrics.host"]["healthy"] is False


def test_a_succeeding_job_is_healthy_with_its_last_run_and_counts(
    history: None, viewer_client: APIClient
) -> None:
    with time_machine.travel(START + timedelta(minutes=9, seconds=30), tick=False):
        job = by_name(viewer_client.get(URL).json())["metrics.host"]
    assert job["last_outcome"] == "success"
    assert job["last_run"] == "2026-03-10T12:09:05Z"
    assert job["next_run"] == "2026-03-10T12:10:05Z"
    assert (job["runs_24h"], job["failures_24h"], job["failing_streak"]) == (10, 0, 0)
    assert (job["lag_seconds"], job["missed_periods"], job["healthy"]) == (0.0, 0, True)
    assert job["last_duration_ms"] >= 0


def test_a_failing_job_shows_its_error_and_is_unhealthy(
    history: None, viewer_client: APIClient
) -> None:
    with time_machine.travel(START + timedelta(minutes=9, seconds=30), tick=False):
        job = by_name(viewer_client.get(URL).json())["alerts.notify.sweep"]
    assert job["last_outcome"] == "failure"
    assert job["last_error"] == "RuntimeError: the upstream answered 502"
    assert (job["runs_24h"], job["failures_24h"], job["failing_streak"]) == (10, 10, 10)
    assert job["last_success"] is None
    assert job["healthy"] is False


def test_a_stuck_job_shows_its_lag_and_missed_periods(
    history: None, viewer_client: APIClient
) -> None:
    with time_machine.travel(START + timedelta(minutes=9, seconds=30), tick=False):
        job = by_name(viewer_client.get(URL).json())["alerts.notify.escalate"]
    assert job["last_run"] == "2026-03-10T12:00:05Z"
    assert job["next_run"] == "2026-03-10T12:01:05Z"
    assert job["lag_seconds"] == 8 * 60 + 30  # 12:09:35 against 12:01:05
    assert job["missed_periods"] == 8  # 12:01:05 ... 12:08:05; 12:09:05 is within the grace
    assert job["healthy"] is False


def test_the_next_run_comes_from_the_installed_schedule(viewer_client: APIClient) -> None:
    with time_machine.travel(START, tick=False):
        install_schedules()
    # Installed at 12:00:05, the schedule is due on the next minute (issue #13).
    with time_machine.travel(START + timedelta(seconds=70), tick=False):
        job = by_name(viewer_client.get(URL).json())["health.round"]
    assert job["next_run"] == "2026-03-10T12:01:00Z"
    assert job["lag_seconds"] == 15.0


def test_the_cluster_lists_processes_seen_in_the_last_two_minutes(
    viewer_client: APIClient, empty_broker: Any
) -> None:
    at = START
    JobRun.objects.create(job="metrics.host", started_at=at, host="worker-a", pid=11)
    JobRun.objects.create(job="health.round", started_at=at, host="worker-a", pid=11)
    JobRun.objects.create(job="health.round", started_at=at - timedelta(minutes=3), host="b", pid=7)
    with time_machine.travel(at + timedelta(seconds=30), tick=False):
        cluster = viewer_client.get(URL).json()["cluster"]
    assert cluster["alive"] is True
    assert cluster["processes"] == [
        {"host": "worker-a", "pid": 11, "runs": 2, "last_seen": "2026-03-10T12:00:05Z"}
    ]
    assert cluster["queue_depth"] == 0
    with time_machine.travel(at + timedelta(minutes=3), tick=False):
        cluster = viewer_client.get(URL).json()["cluster"]
    assert (cluster["alive"], cluster["processes"]) == (False, [])


def test_the_queue_depth_counts_tasks_waiting_in_the_broker(
    viewer_client: APIClient, empty_broker: Any
) -> None:
    empty_broker.enqueue("one")
    empty_broker.enqueue("two")
    assert viewer_client.get(URL).json()["cluster"]["queue_depth"] == 2


def test_anonymous_callers_are_refused() -> None:
    assert Client().get(URL).status_code == 401


def test_metrics_show_processes_queue_depth_and_database_connections(empty_broker: Any) -> None:
    from django.db import connection

    from monitoring_site.workers import WorkerCollector

    JobRun.objects.create(job="metrics.host", started_at=timezone.now(), host="w", pid=1)
    figures = {family.name: family.samples[0].value for family in WorkerCollector().collect()}
    assert figures["monitoring_worker_processes"] == 1
    assert figures["monitoring_worker_queue_depth"] == 0
    if connection.vendor == "postgresql":
        assert figures["monitoring_database_connections"] >= 1
    else:  # SQLite has no connections to count
        assert "monitoring_database_connections" not in figures
