"""Jobs become django-q2 schedules idempotently; every run leaves a JobRun row; cleanups prune."""

from __future__ import annotations

import ast
import logging
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django.utils.module_loading import import_string
from django_q.models import Schedule, Task

from monitoring_site import jobs
from monitoring_site.jobs import (
    ABANDONED,
    CLEANUPS,
    WRAPPER,
    Cleanup,
    CleanupFailed,
    Job,
    all_cleanups,
    all_jobs,
    all_tasks,
    install_schedules,
    run_cleanups,
    run_job,
)
from monitoring_site.models import JobRun

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
CALLS: list[str] = []


def succeed() -> dict[str, int]:
    CALLS.append("succeed")
    return {"pruned": 3}


def explode() -> None:
    raise ValueError("the upstream answered 502")


@pytest.fixture
def declare(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Replace the declared jobs (normally every app's ``JOBS``) for one test."""

    def set_jobs(*declared: Job) -> None:
        monkeypatch.setattr(jobs, "all_jobs", lambda: list(declared))

    return set_jobs


def schedules() -> dict[str, tuple[Any, ...]]:
    return {
        s.name: (s.func, s.args, s.schedule_type, s.minutes, s.cron, s.repeats)
        for s in Schedule.objects.all()
    }


def test_installing_creates_one_schedule_per_job_calling_the_wrapper(declare: Any) -> None:
    declare(
        Job(name="a.every5", func="x.tasks.a", minutes=5),
        Job(name="b.nightly", func="x.tasks.b", cron="0 2 * * *"),
    )
    report = install_schedules(now=NOW)
    assert report["created"] == ["a.every5", "b.nightly"]
    assert schedules() == {
        "a.every5": (WRAPPER, "'a.every5'", Schedule.MINUTES, 5, None, -1),
        "b.nightly": (WRAPPER, "'b.nightly'", Schedule.CRON, None, "0 2 * * *", -1),
    }
    assert Schedule.objects.get(name="a.every5").next_run == NOW


def test_installing_twice_changes_nothing(declare: Any) -> None:
    declare(Job(name="a.every5", func="x.tasks.a", minutes=5))
    install_schedules(now=NOW)
    before = schedules()
    next_run = Schedule.objects.get().next_run
    report = install_schedules(now=NOW + timedelta(hours=1))
    assert report == {"created": [], "updated": [], "deleted": [], "unchanged": ["a.every5"]}
    assert schedules() == before
    assert Schedule.objects.get().next_run == next_run


def test_a_changed_job_updates_its_schedule_in_place(declare: Any) -> None:
    declare(Job(name="a.job", func="x.tasks.a", minutes=5))
    install_schedules(now=NOW)
    schedule_id = Schedule.objects.get().pk
    declare(Job(name="a.job", func="x.tasks.a", cron="*/10 * * * *"))
    report = install_schedules(now=NOW)
    assert report["updated"] == ["a.job"]
    schedule = Schedule.objects.get()
    assert schedule.pk == schedule_id
    assert (schedule.schedule_type, schedule.cron, schedule.minutes) == (
        Schedule.CRON,
        "*/10 * * * *",
        None,
    )


def test_a_removed_job_loses_its_schedule_but_hand_made_schedules_stay(declare: Any) -> None:
    declare(
        Job(name="a.job", func="x.tasks.a", minutes=5), Job(name="b.job", func="x.b", minutes=1)
    )
    install_schedules(now=NOW)
    Schedule.objects.create(name="by hand", func="math.floor", args="1.5", schedule_type="D")
    declare(Job(name="a.job", func="x.tasks.a", minutes=5))
    report = install_schedules(now=NOW)
    assert report["deleted"] == ["b.job"]
    assert sorted(Schedule.objects.values_list("name", flat=True)) == ["a.job", "by hand"]


def test_duplicate_schedules_of_one_job_are_reduced_to_one(declare: Any) -> None:
    declare(Job(name="a.job", func="x.tasks.a", minutes=5))
    install_schedules(now=NOW)
    first = Schedule.objects.get()
    Schedule.objects.create(
        name="a.job", func=WRAPPER, args="'a.job'", schedule_type="I", minutes=5
    )
    report = install_schedules(now=NOW)
    assert report["deleted"] == ["a.job"]
    assert list(Schedule.objects.values_list("pk", flat=True)) == [first.pk]


def test_every_declared_job_of_every_app_installs() -> None:
    declared = {job.name for job in all_jobs()}
    assert "site.cleanup" in declared
    install_schedules(now=NOW)
    assert set(Schedule.objects.filter(func=WRAPPER).values_list("name", flat=True)) == declared
    for job in all_jobs():
        # Each job's function must import, or the schedule would fail every time it fires.
        assert callable(import_string(job.func)), job.func


# Stored by django-q2 (the wrapper in schedule rows, task functions in queued Task rows): moving
# one strands rows already in the database (docs/decisions.md, "The shape of alerts").
STORED_PATHS = {
    "monitoring_site.jobs.run_job",
    "alerts.notifications.tasks.dispatch_due",
}


def test_every_job_name_is_its_app_then_what_it_does_in_dotted_lower_case() -> None:
    names = [job.name for job in all_jobs()]
    assert names and all(re.fullmatch(r"[a-z]+(\.[a-z][a-z_]*)+", name) for name in names), names


def test_the_dotted_paths_django_q_stores_stay_where_the_rows_expect_them() -> None:
    assert WRAPPER in STORED_PATHS
    assert STORED_PATHS - {WRAPPER} <= set(all_tasks())
    for path in STORED_PATHS:
        assert callable(import_string(path)), path


@pytest.mark.parametrize(
    ("kwargs", "problem"),
    [
        ({}, "exactly one of minutes or cron"),
        ({"minutes": 5, "cron": "* * * * *"}, "exactly one of minutes or cron"),
        ({"minutes": 0}, "at least 1"),
        ({"cron": "every day"}, "not a cron expression"),
        ({"cron": "61 * * * *"}, "not a cron expression"),
    ],
)
def test_a_badly_declared_job_is_refused_at_import(kwargs: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        Job(name="bad", func="x.y", **kwargs)


def test_job_names_must_be_unique(monkeypatch: pytest.MonkeyPatch) -> None:
    twice = [Job(name="same", func="x.a", minutes=1), Job(name="same", func="x.b", minutes=2)]
    monkeypatch.setattr(jobs, "_declared", lambda attribute: twice)
    with pytest.raises(ValueError, match="unique"):
        all_jobs()


def test_the_wrapper_records_a_successful_run(declare: Any) -> None:
    declare(Job(name="t.succeed", func="tests.monitoring_site.test_jobs.succeed", minutes=1))
    CALLS.clear()
    assert run_job("t.succeed") == {"pruned": 3}
    assert CALLS == ["succeed"]
    run = JobRun.objects.get()
    assert run.job == "t.succeed"
    assert run.outcome == JobRun.Outcome.SUCCESS
    assert run.error == ""
    assert run.result == "{'pruned': 3}"
    assert run.finished_at is not None and run.finished_at >= run.started_at
    assert run.duration_ms is not None and run.duration_ms >= 0
    assert run.pid is not None and run.host


def test_the_wrapper_records_a_failure_and_reraises_for_the_worker(
    declare: Any, caplog: pytest.LogCaptureFixture
) -> None:
    declare(Job(name="t.explode", func="tests.monitoring_site.test_jobs.explode", minutes=1))
    with caplog.at_level(logging.ERROR), pytest.raises(ValueError, match="502"):
        run_job("t.explode")
    run = JobRun.objects.get()
    assert run.outcome == JobRun.Outcome.FAILURE
    assert run.error == "ValueError: the upstream answered 502"
    assert run.finished_at is not None
    assert any(getattr(record, "job", None) == "t.explode" for record in caplog.records)


def test_a_run_the_worker_abandoned_is_closed_as_a_failure_by_the_next_run(
    declare: Any, settings: Any
) -> None:
    declare(Job(name="t.succeed", func="tests.monitoring_site.test_jobs.succeed", minutes=1))
    timeout = settings.Q_CLUSTER["timeout"]
    now = timezone.now()
    killed = JobRun.objects.create(job="t.succeed", started_at=now - timedelta(seconds=timeout + 5))
    in_flight = JobRun.objects.create(job="t.succeed", started_at=now - timedelta(seconds=5))
    other = JobRun.objects.create(job="other", started_at=now - timedelta(days=1))
    run_job("t.succeed")
    killed.refresh_from_db()
    assert (killed.outcome, killed.error) == (JobRun.Outcome.FAILURE, ABANDONED)
    assert killed.finished_at is not None
    in_flight.refresh_from_db()
    other.refresh_from_db()
    assert in_flight.outcome == other.outcome == JobRun.Outcome.RUNNING


def test_a_schedule_whose_job_was_removed_records_a_failed_run(declare: Any) -> None:
    declare()
    with pytest.raises(KeyError):
        run_job("gone.job")
    run = JobRun.objects.get()
    assert (run.job, run.outcome) == ("gone.job", JobRun.Outcome.FAILURE)
    assert "unknown job 'gone.job'" in run.error


def test_the_wrapper_runs_what_django_q_schedules_call(declare: Any) -> None:
    """The schedule's func and args, as django-q2 would call them, reach the job."""
    declare(Job(name="t.succeed", func="tests.monitoring_site.test_jobs.succeed", minutes=1))
    install_schedules(now=NOW)
    schedule = Schedule.objects.get()
    import_string(schedule.func)(*ast.literal_eval(f"({schedule.args},)"))
    assert JobRun.objects.get().outcome == JobRun.Outcome.SUCCESS


# --- cleanups --------------------------------------------------------------------------------


@pytest.fixture
def foundation_cleanups_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jobs, "all_cleanups", lambda: list(CLEANUPS))


def _runs(count: int, started_at: datetime) -> None:
    JobRun.objects.bulk_create(
        JobRun(job=f"old-{i}", started_at=started_at, outcome="success") for i in range(count)
    )


def test_cleanup_prunes_rows_older_than_their_retention_in_batches(
    foundation_cleanups_only: None, settings: Any
) -> None:
    settings.CLEANUP_BATCH_SIZE = 3
    settings.JOB_RUN_RETENTION_DAYS = 30
    _runs(8, NOW - timedelta(days=31))
    _runs(2, NOW - timedelta(days=29))
    with CaptureQueriesContext(connection) as queries:
        removed = run_cleanups(now=NOW)
    assert removed == {
        "job runs": 8,
        "q2 task results": 0,
        "sign-in log": 0,
        "sign-in failure log": 0,
    }
    assert sorted(JobRun.objects.values_list("job", flat=True)) == ["old-0", "old-1"]
    deletes = [q["sql"] for q in queries if q["sql"].startswith("DELETE") and "jobrun" in q["sql"]]
    assert len(deletes) == 3  # 3 + 3 + 2 rows: each batch its own short statement


def test_cleanup_prunes_old_django_q_task_results(
    foundation_cleanups_only: None, settings: Any
) -> None:
    settings.Q_TASK_RETENTION_DAYS = 7
    for name, age in (("old", 8), ("recent", 6)):
        Task.objects.create(
            id=f"{name}-task-id",
            name=name,
            func="math.floor",
            started=NOW - timedelta(days=age),
            stopped=NOW - timedelta(days=age),
            success=True,
        )
    removed = run_cleanups(now=NOW)
    assert removed["q2 task results"] == 1
    assert list(Task.objects.values_list("name", flat=True)) == ["recent"]


def test_cleanup_logs_what_it_removed(
    foundation_cleanups_only: None, caplog: pytest.LogCaptureFixture
) -> None:
    _runs(2, NOW - timedelta(days=400))
    with caplog.at_level(logging.INFO, logger="monitoring_site.jobs"):
        run_cleanups(now=NOW)
    records = [r for r in caplog.records if getattr(r, "cleanup", None) == "job runs"]
    assert records and records[0].getMessage() == "cleanup job runs removed 2 rows"


def test_one_broken_cleanup_does_not_stop_the_others(monkeypatch: pytest.MonkeyPatch) -> None:
    broken = Cleanup(name="broken", model="monitoring_site.JobRun", field="x", setting="NOPE")
    monkeypatch.setattr(jobs, "all_cleanups", lambda: [broken, *CLEANUPS])
    _runs(2, NOW - timedelta(days=400))
    with pytest.raises(CleanupFailed, match="broken"):
        run_cleanups(now=NOW)
    assert JobRun.objects.count() == 0


def test_cleanup_filters_limit_what_is_pruned(monkeypatch: pytest.MonkeyPatch) -> None:
    only_failures = Cleanup(
        name="failed runs",
        model="monitoring_site.JobRun",
        field="started_at",
        setting="JOB_RUN_RETENTION_DAYS",
        filters=(("outcome", "failure"),),
    )
    monkeypatch.setattr(jobs, "all_cleanups", lambda: [only_failures])
    old = NOW - timedelta(days=400)
    JobRun.objects.create(job="kept", started_at=old, outcome="success")
    JobRun.objects.create(job="pruned", started_at=old, outcome="failure")
    assert run_cleanups(now=NOW) == {"failed runs": 1}
    assert list(JobRun.objects.values_list("job", flat=True)) == ["kept"]


def test_every_registered_cleanup_of_every_app_runs() -> None:
    """Each app's cleanup names a real model, field and setting."""
    removed = run_cleanups(now=timezone.now())
    assert set(removed) == {cleanup.name for cleanup in all_cleanups()}
    assert {"job runs", "q2 task results"} <= set(removed)


def test_the_cleanup_job_runs_through_the_wrapper(foundation_cleanups_only: None) -> None:
    _runs(1, timezone.now() - timedelta(days=400))
    result = run_job("site.cleanup")
    assert result["job runs"] == 1
    run = JobRun.objects.get(job="site.cleanup")
    assert run.outcome == JobRun.Outcome.SUCCESS
    assert "'job runs': 1" in run.result


# --- the first minute after bootstrap (issue #13, item 5) ----------------------------------------


def run_scheduler(broker: Any) -> None:
    """One wake-up of django-q2's scheduler, minus its closing of "old" connections: under a
    moved clock it would close the test's own connection (and its transaction) on PostgreSQL."""
    from django_q import scheduler

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(scheduler, "close_old_django_connections", lambda: None)
        scheduler.scheduler(broker=broker)


def _scheduler_ticks(start: datetime, seconds: int, every: int = 30) -> dict[str, int]:
    """django-q2's scheduler woken every ``every`` seconds from ``start``: tasks made per job."""
    from django_q.brokers.orm import ORM
    from django_q.models import OrmQ

    broker = ORM(list_key="issue13-schedules")
    made: dict[str, int] = {}
    for offset in range(0, seconds + 1, every):
        with time_machine.travel(start + timedelta(seconds=offset), tick=False):
            before = set(OrmQ.objects.values_list("pk", flat=True))
            run_scheduler(broker)
            for queued in OrmQ.objects.exclude(pk__in=before):
                name = queued.task["args"][0]
                made[name] = made.get(name, 0) + 1
    return made


def test_a_minute_job_runs_once_in_its_first_minute_after_bootstrap(declare: Any) -> None:
    declare(
        Job(name="a.minutely", func="x.tasks.a", minutes=1),
        Job(name="b.every5", func="x.tasks.b", minutes=5),
    )
    bootstrap_at = NOW + timedelta(seconds=40)  # 12:00:40, a scheduler wakes at :41 and :11
    install_schedules(now=bootstrap_at)
    assert Schedule.objects.get(name="a.minutely").next_run == NOW + timedelta(minutes=1)
    assert Schedule.objects.get(name="b.every5").next_run == NOW + timedelta(minutes=5)
    # From 12:00:41 to 12:01:41: one run of the minute job, at its first boundary.
    ran = _scheduler_ticks(bootstrap_at + timedelta(seconds=1), seconds=60)
    assert ran == {"a.minutely": 1}


def test_schedules_keep_their_boundary_so_a_run_is_late_only_by_the_schedulers_wake_up(
    declare: Any,
) -> None:
    declare(Job(name="a.minutely", func="x.tasks.a", minutes=1))
    install_schedules(now=NOW + timedelta(seconds=47))
    ran = _scheduler_ticks(NOW + timedelta(seconds=50), seconds=300)
    assert ran == {"a.minutely": 5}
    next_run = Schedule.objects.get().next_run
    assert (next_run.second, next_run.microsecond) == (0, 0)


def test_bootstrap_moves_a_schedule_installed_off_its_boundary_onto_it(declare: Any) -> None:
    """Schedules created before the alignment ran at the phase bootstrap had (12:00:47)."""
    declare(Job(name="a.minutely", func="x.tasks.a", minutes=1))
    install_schedules(now=NOW)
    Schedule.objects.update(next_run=NOW + timedelta(minutes=3, seconds=47))
    report = install_schedules(now=NOW + timedelta(minutes=3, seconds=5))
    assert report["updated"] == ["a.minutely"]
    assert Schedule.objects.get().next_run == NOW + timedelta(minutes=4)
