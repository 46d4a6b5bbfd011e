"""Periodic jobs and retention, declared by each app, installed as django-q2 schedules.

Each app lists its jobs in ``<app>/jobs.py`` as ``JOBS``, what it prunes as ``CLEANUPS``, and the
functions it hands to ``async_task`` as ``TASKS``. Every schedule calls :func:`run_job`, the one
wrapper that records a :class:`JobRun`. The worker runs nothing else (see ``worker_guard``).
"""

from __future__ import annotations

import importlib
import logging
import math
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter
from django.apps import apps
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django.utils.module_loading import import_string
from django_q.models import Schedule

from monitoring_site import tracing
from monitoring_site.models import JobRun

logger = logging.getLogger(__name__)

PROJECT_APPS = ("monitoring_site", "metrics_app", "health", "alerts", "reports")
WRAPPER = "monitoring_site.jobs.run_job"


@dataclass(frozen=True)
class Job:
    """A periodic job: every ``minutes`` minutes, or on a ``cron`` expression in ``timezone``.

    A cron job keeps its wall-clock time across daylight-saving changes (08:00 in Europe/Paris is
    06:00 UTC in summer, 07:00 in winter). ``heartbeat``: each successful run pings the dead-man's
    switch (``monitoring_site.deadman``).
    """

    name: str
    func: str
    minutes: int | None = None
    cron: str | None = None
    timezone: str = "UTC"
    heartbeat: bool = False

    def __post_init__(self) -> None:
        if not self.name or len(self.name) > 100:
            raise ValueError(f"job {self.name!r}: a name of 1 to 100 characters")
        if (self.minutes is None) == (self.cron is None):
            raise ValueError(f"job {self.name}: give exactly one of minutes or cron")
        if self.minutes is not None and self.minutes < 1:
            raise ValueError(f"job {self.name}: minutes must be at least 1")
        if self.cron is not None and not croniter.is_valid(self.cron):
            raise ValueError(f"job {self.name}: {self.cron!r} is not a cron expression")
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"job {self.name}: {self.timezone!r} is not a time zone") from None

    def next_fire(self, after: datetime) -> datetime | None:
        """When a cron job fires next after ``after`` (UTC); None for an interval job."""
        if self.cron is None:
            return None
        local = after.astimezone(ZoneInfo(self.timezone))
        return croniter(self.cron, local).get_next(datetime).astimezone(UTC)

    def first_tick(self, now: datetime) -> datetime:
        """The first run of a new schedule: the next boundary of its period (cron: next fire).

        An interval job's period starts on the epoch's multiples of ``minutes`` (every minute at
        :00, every five minutes at :00, :05, ...), so a run's delay past its boundary is what the
        scheduler and the queue added, and the job runs once per period from the start.
        """
        fire = self.next_fire(now)
        if fire is not None:
            return fire
        period = (self.minutes or 1) * 60
        epoch = now.timestamp()
        return datetime.fromtimestamp(math.ceil(epoch / period) * period, tz=UTC)

    def on_boundary(self, moment: datetime) -> bool:
        """An interval schedule's run time sits on its period's boundary (cron: always true)."""
        if self.minutes is None:
            return True
        return moment.timestamp() % (self.minutes * 60) == 0


@dataclass(frozen=True)
class Cleanup:
    """Rows of ``model`` whose ``field`` is older than the retention setting are pruned daily."""

    name: str
    model: str
    field: str
    setting: str
    unit: str = "days"
    filters: tuple[tuple[str, Any], ...] = ()

    def retention(self) -> timedelta:
        return timedelta(**{self.unit: getattr(settings, self.setting)})


def _declared(attribute: str) -> list[Any]:
    found: list[Any] = []
    for app in PROJECT_APPS:
        try:
            module = importlib.import_module(f"{app}.jobs")
        except ModuleNotFoundError as exc:
            if exc.name != f"{app}.jobs":
                raise
            continue
        found.extend(getattr(module, attribute, []))
    return found


def all_jobs() -> list[Job]:
    jobs = _declared("JOBS")
    names = [job.name for job in jobs]
    duplicates = {name for name in names if names.count(name) > 1}
    if duplicates:
        raise ValueError(f"job names must be unique: {sorted(duplicates)}")
    return jobs


def all_cleanups() -> list[Cleanup]:
    return _declared("CLEANUPS")


def all_tasks() -> list[str]:
    """Dotted paths of the functions the apps enqueue with ``async_task`` (their ``TASKS``)."""
    return _declared("TASKS")


def job_by_name(name: str) -> Job:
    for job in all_jobs():
        if job.name == name:
            return job
    raise KeyError(f"unknown job {name!r}")


def run_job(name: str, func: Callable[[], Any] | None = None) -> Any:
    """Run one job and record its run row (start, duration, outcome, error)."""

    started = timezone.now()
    _close_abandoned_runs(name, started)
    _align_cron_schedule(name, started)
    run = JobRun.objects.create(
        job=name, started_at=started, host=socket.gethostname()[:255], pid=os.getpid()
    )
    clock = time.perf_counter()
    declared: Job | None = None
    # The span records the job's exception, if any, before it propagates.
    with tracing.span(f"job {name}", **{"job.name": name, "job.run_id": run.pk}):
        try:
            # Resolved inside the try: a schedule left behind by a removed job is recorded too.
            declared = _declared_job(name)
            target = func or import_string(job_by_name(name).func)
            result = target()
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"[:4000]
            _finish(run, clock, JobRun.Outcome.FAILURE, error=error)
            logger.exception("job failed", extra={"job": name})
            raise
        _finish(
            run, clock, JobRun.Outcome.SUCCESS, result="" if result is None else str(result)[:4000]
        )
        if declared is not None and declared.heartbeat:
            from monitoring_site import deadman

            deadman.ping(job=name)
    return result


def _align_cron_schedule(name: str, now: datetime) -> None:
    """Set a cron job's schedule to its next fire time in the job's own time zone.

    django-q2 computes a cron schedule's next run in one time zone for the whole cluster
    (``TIME_ZONE``); each run puts its own job's next run where the job's zone says.
    """
    from django_q.models import Schedule

    job = _declared_job(name)
    if job is None:
        return
    next_run = job.next_fire(now)
    if next_run is not None:
        Schedule.objects.filter(name=name, func=WRAPPER).exclude(next_run=next_run).update(
            next_run=next_run
        )


def _declared_job(name: str) -> Job | None:
    try:
        return job_by_name(name)
    except KeyError:
        return None


ABANDONED = "did not finish: the worker was killed or timed out"


def _close_abandoned_runs(name: str, now: datetime) -> int:
    """Mark runs of ``name`` still "running" past the task timeout as failures.

    django-q2 kills a task that exceeds ``Q_CLUSTER["timeout"]``; its row would otherwise say
    "running" forever.
    """

    cutoff = now - timedelta(seconds=settings.Q_CLUSTER["timeout"])
    return JobRun.objects.filter(
        job=name, outcome=JobRun.Outcome.RUNNING, started_at__lt=cutoff
    ).update(outcome=JobRun.Outcome.FAILURE, finished_at=now, error=ABANDONED)


def _finish(run: Any, clock: float, outcome: str, *, error: str = "", result: str = "") -> None:
    run.finished_at = timezone.now()
    run.duration_ms = (time.perf_counter() - clock) * 1000
    run.outcome = outcome
    run.error = error
    run.result = result
    run.save(update_fields=["finished_at", "duration_ms", "outcome", "error", "result"])


@transaction.atomic
def install_schedules(*, now: datetime | None = None) -> dict[str, list[str]]:
    """Create, update and delete django-q2 schedules so they match the declared jobs."""

    now = now or timezone.now()
    _lock_schedules()
    report: dict[str, list[str]] = {"created": [], "updated": [], "deleted": [], "unchanged": []}
    declared = {job.name: job for job in all_jobs()}
    for job in declared.values():
        wanted = _schedule_fields(job)
        same_name = list(Schedule.objects.filter(name=job.name).order_by("id"))
        schedule = same_name[0] if same_name else None
        if len(same_name) > 1:
            # django-q2 does not make names unique; a duplicate would run the job twice.
            Schedule.objects.filter(pk__in=[extra.pk for extra in same_name[1:]]).delete()
            report["deleted"].append(job.name)
        if schedule is None:
            first = job.first_tick(now)
            created = Schedule.objects.create(name=job.name, next_run=first, **wanted)
            # django-q2 computes a new cron schedule's first run on its own clock: set ours.
            Schedule.objects.filter(pk=created.pk).update(next_run=first)
            report["created"].append(job.name)
        elif _differs(schedule, wanted, job, now):
            for key, value in wanted.items():
                setattr(schedule, key, value)
            schedule.next_run = job.first_tick(now)
            schedule.save()
            report["updated"].append(job.name)
        else:
            report["unchanged"].append(job.name)
    stale = Schedule.objects.filter(func=WRAPPER).exclude(name__in=declared)
    report["deleted"] = sorted([*report["deleted"], *stale.values_list("name", flat=True)])
    stale.delete()
    return report


def _differs(schedule: Any, wanted: dict[str, Any], job: Job, now: datetime) -> bool:
    """Its fields differ, its next run is not the job's next fire time (a cron job), or off its
    period's boundary (an interval job installed before schedules were aligned)."""
    if any(getattr(schedule, key) != value for key, value in wanted.items()):
        return True
    if not job.on_boundary(schedule.next_run):
        return True
    fire = job.next_fire(now)
    return fire is not None and schedule.next_run > now and schedule.next_run != fire


def _lock_schedules() -> None:
    """Serialise concurrent installs (several web hosts starting at once) until commit.

    SQLite transactions here are IMMEDIATE, which already serialises writers; PostgreSQL takes
    a transaction-scoped advisory lock.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_SCHEDULE_LOCK])


# An arbitrary constant: the advisory lock id of install_schedules.
_SCHEDULE_LOCK = 0x6D6F6E5F6A6F6273


def _schedule_fields(job: Job) -> dict[str, Any]:

    fields: dict[str, Any] = {"func": WRAPPER, "args": repr(job.name), "repeats": -1}
    if job.cron:
        fields.update(schedule_type=Schedule.CRON, cron=job.cron, minutes=None)
    else:
        fields.update(schedule_type=Schedule.MINUTES, minutes=job.minutes, cron=None)
    return fields


def run_cleanups(*, now: datetime | None = None) -> dict[str, int]:
    """Prune every registered cleanup in batches (short transactions, no long table locks)."""
    now = now or timezone.now()
    removed: dict[str, int] = {}
    failed: list[str] = []
    for cleanup in all_cleanups():
        try:
            removed[cleanup.name] = _run_cleanup(cleanup, now)
        except Exception:
            # One broken cleanup must not stop the others; the job still fails at the end.
            logger.exception("cleanup failed", extra={"cleanup": cleanup.name})
            failed.append(cleanup.name)
    if failed:
        raise CleanupFailed(f"cleanups failed: {', '.join(failed)}; removed: {removed}")
    return removed


class CleanupFailed(RuntimeError):
    """Some cleanups raised; the others ran. The message lists both."""


def _run_cleanup(cleanup: Cleanup, now: datetime) -> int:
    model = apps.get_model(cleanup.model)
    cutoff = now - cleanup.retention()
    queryset = model._default_manager.filter(
        **{f"{cleanup.field}__lt": cutoff}, **dict(cleanup.filters)
    )
    count = _delete_in_batches(model, queryset)
    logger.info(
        "cleanup %s removed %s rows",
        cleanup.name,
        count,
        extra={"cleanup": cleanup.name, "cutoff": cutoff.isoformat()},
    )
    return count


def _delete_in_batches(model: Any, queryset: Any) -> int:
    total = 0
    batch = settings.CLEANUP_BATCH_SIZE
    while True:
        ids = list(queryset.order_by().values_list("pk", flat=True)[:batch])
        if not ids:
            return total
        with transaction.atomic():
            model._default_manager.filter(pk__in=ids).delete()
        total += len(ids)


# The foundation's own jobs and retention.
JOBS = [Job(name="site.cleanup", func="monitoring_site.tasks.cleanup", cron=settings.CLEANUP_CRON)]
CLEANUPS = [
    Cleanup(
        name="job runs",
        model="monitoring_site.JobRun",
        field="started_at",
        setting="JOB_RUN_RETENTION_DAYS",
    ),
    Cleanup(
        name="q2 task results",
        model="django_q.Task",
        field="stopped",
        setting="Q_TASK_RETENTION_DAYS",
    ),
    # Sign-in records (django-axes): successes and failures; lockouts expire by themselves.
    Cleanup(
        name="sign-in log",
        model="axes.AccessLog",
        field="attempt_time",
        setting="LOGIN_LOG_RETENTION_DAYS",
    ),
    Cleanup(
        name="sign-in failure log",
        model="axes.AccessFailureLog",
        field="attempt_time",
        setting="LOGIN_LOG_RETENTION_DAYS",
    ),
]
