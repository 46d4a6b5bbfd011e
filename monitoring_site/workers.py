"""Reads about the worker cluster: each declared job's schedule and record, and the processes.

Everything comes from rows (``JobRun``, django-q2's ``Schedule``) and the broker, so any web
process reports the whole cluster wherever the workers run. Nothing here writes.
"""

from __future__ import annotations

import itertools
import logging
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from croniter import croniter
from django.conf import settings
from django.db import DatabaseError, connection
from django.db.models import Count, Max, Q
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily, Metric

from monitoring_site.jobs import Job, all_jobs
from monitoring_site.models import JobRun

logger = logging.getLogger(__name__)

# django-q2's scheduler wakes every 30 s, so a job may start up to that late; a run is only
# counted missing past this grace.
SCHEDULER_GRACE = timedelta(seconds=60)
DAY = timedelta(hours=24)


def fire_times(job: Job, *, after: datetime, until: datetime) -> Iterator[datetime]:
    """The moments ``job`` is due strictly after ``after`` and not later than ``until``."""
    if job.minutes is not None:
        step = timedelta(minutes=job.minutes)
        moment = after + step
        while moment <= until:
            yield moment
            moment += step
        return
    schedule = croniter(str(job.cron), after)
    while (moment := schedule.get_next(datetime)) <= until:
        yield moment


def period(job: Job, *, now: datetime) -> timedelta:
    """One interval of ``job``: its minutes, or the gap between its last two cron times."""
    if job.minutes is not None:
        return timedelta(minutes=job.minutes)
    schedule = croniter(str(job.cron), now)
    last = schedule.get_prev(datetime)
    return last - schedule.get_prev(datetime)


def next_due(job: Job, *, after: datetime) -> datetime:
    return next(fire_times(job, after=after, until=after + 400 * DAY))


@dataclass(frozen=True)
class JobStatus:
    """One declared job as the rows tell it, at ``now``."""

    job: Job
    last: JobRun | None
    last_success_at: datetime | None
    next_run: datetime | None
    lag_seconds: float
    missed_periods: int
    runs_24h: int
    failures_24h: int
    failing_streak: int
    healthy: bool

    def as_dict(self) -> dict[str, Any]:
        last = self.last
        return {
            "name": self.job.name,
            "function": self.job.func,
            "schedule": {"every_minutes": self.job.minutes, "cron": self.job.cron},
            "last_run": last.started_at if last else None,
            "last_finished": last.finished_at if last else None,
            "last_duration_ms": last.duration_ms if last else None,
            "last_outcome": last.outcome if last else None,
            "last_error": last.error if last else "",
            "last_success": self.last_success_at,
            "next_run": self.next_run,
            "lag_seconds": round(self.lag_seconds, 3),
            "missed_periods": self.missed_periods,
            "runs_24h": self.runs_24h,
            "failures_24h": self.failures_24h,
            "failing_streak": self.failing_streak,
            "healthy": self.healthy,
        }


def job_statuses(*, now: datetime | None = None) -> list[JobStatus]:
    """Every declared job's record: last run, next run, lag, 24-hour counts, health."""
    now = now or timezone.now()
    jobs = all_jobs()
    names = [job.name for job in jobs]
    counts = _counts_24h(names, now)
    scheduled = _scheduled_next_runs(names)
    return [
        _status(job, now, counts.get(job.name, (0, 0)), scheduled.get(job.name)) for job in jobs
    ]


def _counts_24h(names: list[str], now: datetime) -> dict[str, tuple[int, int]]:
    rows = (
        JobRun.objects.filter(job__in=names, started_at__gte=now - DAY)
        .values("job")
        .annotate(runs=Count("id"), failures=Count("id", filter=Q(outcome="failure")))
        .order_by()
    )
    return {row["job"]: (row["runs"], row["failures"]) for row in rows}


def _scheduled_next_runs(names: list[str]) -> dict[str, datetime]:
    from django_q.models import Schedule

    rows = Schedule.objects.filter(name__in=names).values_list("name", "next_run")
    return {name: next_run for name, next_run in rows if next_run is not None}


def _status(
    job: Job, now: datetime, counts: tuple[int, int], scheduled: datetime | None
) -> JobStatus:
    runs = JobRun.objects.filter(job=job.name).order_by("-started_at", "-id")
    last = runs.first()
    success = runs.filter(outcome=JobRun.Outcome.SUCCESS).values_list("finished_at", flat=True)
    last_success_at = success.first()
    next_run = scheduled or (next_due(job, after=last.started_at) if last else None)
    missed = 0
    if last is not None:
        missed = sum(1 for _ in fire_times(job, after=last.started_at, until=now - SCHEDULER_GRACE))
    window = 2 * period(job, now=now) + SCHEDULER_GRACE
    return JobStatus(
        job=job,
        last=last,
        last_success_at=last_success_at,
        next_run=next_run,
        lag_seconds=max(0.0, (now - next_run).total_seconds()) if next_run else 0.0,
        missed_periods=missed,
        runs_24h=counts[0],
        failures_24h=counts[1],
        failing_streak=_failing_streak(runs),
        healthy=last_success_at is not None and now - last_success_at <= window,
    )


def _failing_streak(runs: Any) -> int:
    """How many of the latest finished runs failed in a row (up to ten are read)."""
    streak = 0
    finished = runs.exclude(outcome=JobRun.Outcome.RUNNING).values_list("outcome", flat=True)
    for outcome in finished[:10]:
        if outcome != JobRun.Outcome.FAILURE:
            break
        streak += 1
    return streak


# --- the cluster ---------------------------------------------------------------------------------


def live_processes(*, now: datetime | None = None) -> list[dict[str, Any]]:
    """Worker processes (host, pid) that started a job run within the window."""
    now = now or timezone.now()
    since = now - timedelta(seconds=settings.HEALTH_WORKER_STALE_SECONDS)
    rows = (
        JobRun.objects.filter(started_at__gte=since)
        .exclude(host="")
        .values("host", "pid")
        .annotate(runs=Count("id"), last_seen=Max("started_at"))
        .order_by("host", "pid")
    )
    return [dict(row) for row in rows]


def worker_outages(*, now: datetime, lookback: timedelta) -> list[tuple[datetime, datetime]]:
    """Silences of the whole cluster that ended within ``lookback``: (last run before, first after).

    A silence is a gap between consecutive job-run starts longer than
    ``HEALTH_WORKER_STALE_SECONDS`` (the window in which ``/health`` calls the workers down).
    """
    since = now - lookback
    starts = list(
        JobRun.objects.filter(started_at__gte=since, started_at__lte=now)
        .order_by("started_at")
        .values_list("started_at", flat=True)
    )
    before = (
        JobRun.objects.filter(started_at__lt=since)
        .order_by("-started_at")
        .values_list("started_at", flat=True)
        .first()
    )
    moments = ([before] if before else []) + starts
    stale = timedelta(seconds=settings.HEALTH_WORKER_STALE_SECONDS)
    return [(a, b) for a, b in itertools.pairwise(moments) if b - a > stale]


def queue_depth() -> int | None:
    """Tasks waiting in the django-q2 broker (Redis list or ORM rows); None when unreachable."""
    from django_q.brokers import get_broker

    try:
        return int(get_broker().queue_size() or 0)
    except Exception as exc:  # a broker that is down is a fact to show, not a 500
        logger.warning("broker queue depth unavailable: %s", type(exc).__name__)
        return None


def database_connections() -> int | None:
    """Connections to this database in use (PostgreSQL); None on SQLite, which has none."""
    if connection.vendor != "postgresql":
        return None
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            )
            row = cursor.fetchone()
    except DatabaseError:
        return None
    return int(row[0]) if row else None


def cluster_status(*, now: datetime | None = None) -> dict[str, Any]:
    now = now or timezone.now()
    processes = live_processes(now=now)
    return {
        "alive": bool(processes),
        "seen_within_seconds": settings.HEALTH_WORKER_STALE_SECONDS,
        "processes": processes,
        "queue_depth": queue_depth(),
    }


def workers_payload(*, now: datetime | None = None) -> dict[str, Any]:
    """The body of ``GET /api/v1/monitoring/workers``."""
    now = now or timezone.now()
    return {
        "checked_at": now,
        "jobs": [status.as_dict() for status in job_statuses(now=now)],
        "cluster": cluster_status(now=now),
    }


def disk_usage_percent(path: str) -> float:
    """How full the file system holding ``path`` is, in percent."""
    usage = shutil.disk_usage(path)
    return 100.0 * usage.used / usage.total if usage.total else 0.0


class WorkerCollector:
    """/metrics: worker processes seen, broker queue depth, database connections in use."""

    def describe(self) -> list[Metric]:
        return []  # registering must not query the database

    def collect(self) -> Iterator[Metric]:
        processes = GaugeMetricFamily(
            "monitoring_worker_processes",
            "Worker processes that started a job run within HEALTH_WORKER_STALE_SECONDS.",
        )
        processes.add_metric([], len(live_processes()))
        yield processes
        depth = queue_depth()
        if depth is not None:
            queue = GaugeMetricFamily(
                "monitoring_worker_queue_depth", "Tasks waiting in the django-q2 broker."
            )
            queue.add_metric([], depth)
            yield queue
        connections = database_connections()
        if connections is not None:
            family = GaugeMetricFamily(
                "monitoring_database_connections",
                "Connections to the monitor's PostgreSQL database in use (pg_stat_activity).",
            )
            family.add_metric([], connections)
            yield family
