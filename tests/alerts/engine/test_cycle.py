"""Evaluation cycles: rows, per-rule errors, overrun skips, the collector, concurrent evaluators."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.db import connection, connections, transaction
from django.utils import timezone
from prometheus_client import CollectorRegistry, generate_latest

from alerts.engine.cycle import run_cycle, scheduled_boundary
from alerts.engine.lease import claim_lease
from alerts.engine.lifecycle import apply_evaluation
from alerts.jobs import JOBS
from alerts.metrics import EvaluationCollector
from alerts.models import Alert, AlertEvent, EvaluationCycle, Rule
from alerts.tasks import evaluate_rules
from monitoring_site.jobs import run_cleanups
from tests.alerts.conftest import T0, scalar
from tests.alerts.metric_rows import Store, minutes_between

QUEUE = 'max(queue_size{queue="mint"})'


def queue_rows(value: float) -> None:
    store = Store()
    span = minutes_between(T0 - timedelta(minutes=10), T0 + timedelta(minutes=30))
    store.gauge("queue_size", {"service": "queue", "queue": "mint"}, span, value)
    store.save()


@pytest.mark.django_db
def test_a_cycle_is_a_row_with_its_rules_errors_changes_duration_and_lag(
    make_rule: Callable[..., Rule], clock: Any
) -> None:
    queue_rows(1500)
    make_rule(expression="max(queue_size)", threshold=1000, for_seconds=60)
    clock.shift(3)  # 3 s after the 15-second boundary T0
    cycle = run_cycle()
    assert (cycle.rules, cycle.errors, cycle.changes, cycle.skipped) == (1, 0, 1, False)
    assert cycle.started_at == T0 + timedelta(seconds=3)
    assert cycle.scheduled_for == T0
    assert cycle.lag_ms == 3_000
    assert cycle.reason == EvaluationCycle.Reason.SCHEDULE
    # The alert's instants are the scheduled instant's, not the late start's.
    assert Alert.objects.get().started_at == T0
    assert cycle.duration_ms is not None and cycle.duration_ms > 0
    assert cycle.finished_at is not None
    assert EvaluationCycle.objects.count() == 1


@pytest.mark.django_db
def test_one_rules_error_is_shown_on_it_and_never_stops_the_others(
    make_rule: Callable[..., Rule], clock: Any
) -> None:
    queue_rows(1500)
    broken = make_rule(name="Broken", expression="max(queue_size)")
    # The catalogue lost the metric after the rule was saved: the expression no longer checks.
    Rule.objects.filter(pk=broken.pk).update(expression="max(no_such_metric_total)")
    healthy = make_rule(name="Healthy", expression="max(queue_size)", threshold=1000)
    cycle = run_cycle()
    assert (cycle.rules, cycle.errors) == (2, 1)
    broken.refresh_from_db()
    assert "no_such_metric_total" in broken.last_error
    assert broken.last_error_at == T0
    healthy.refresh_from_db()
    assert (healthy.last_error, healthy.last_value) == ("", 1500.0)
    assert Alert.objects.get().rule == healthy


@pytest.mark.django_db
def test_runtime_fields_written_by_a_cycle_add_no_edit_history(
    make_rule: Callable[..., Rule], clock: Any
) -> None:
    queue_rows(10)
    rule = make_rule(expression="max(queue_size)")
    run_cycle()
    clock.shift(60)
    run_cycle()
    assert rule.history.count() == 1


@pytest.mark.django_db
def test_the_boundary_of_a_time_without_a_zone_is_on_the_same_clock(settings: Any) -> None:
    # Found by mypy: the naive branch fell back to timezone.utc, which Django 5 removed.
    settings.RULE_EVALUATION_INTERVAL_SECONDS = 60
    assert scheduled_boundary(datetime(2024, 1, 1, 12, 7, 30)) == datetime(2024, 1, 1, 12, 7)
    settings.RULE_EVALUATION_INTERVAL_SECONDS = 15
    assert scheduled_boundary(datetime(2024, 1, 1, 12, 7, 44)) == datetime(2024, 1, 1, 12, 7, 30)


def test_a_cycle_that_starts_while_the_previous_still_runs_is_skipped_and_counted(
    make_rule: Callable[..., Rule], clock: Any
) -> None:
    make_rule(expression="max(queue_size)")
    assert claim_lease(holder="slow-previous-cycle", now=timezone.now())
    clock.shift(60)
    skipped = run_cycle()
    assert skipped.skipped
    assert (skipped.rules, skipped.duration_ms) == (0, 0.0)
    assert evaluate_rules() == "skipped: the previous cycle still runs"
    # A crashed evaluator's lease expires (ALERT_EVALUATION_LEASE_SECONDS, 300 s).
    clock.shift(300)
    assert not run_cycle().skipped
    assert EvaluationCycle.objects.filter(skipped=True).count() == 2


@pytest.mark.django_db
def test_the_collector_exports_duration_lag_and_skipped_cycles_from_the_rows(
    make_rule: Callable[..., Rule], clock: Any
) -> None:
    queue_rows(1500)
    make_rule(expression="max(queue_size)", threshold=1000, for_seconds=60, severity="error")
    clock.shift(4)  # 4 s late for the boundary T0
    run_cycle()
    claim_lease(holder="other", now=timezone.now())
    clock.shift(60)
    run_cycle()
    registry = CollectorRegistry()
    registry.register(EvaluationCollector())
    text = generate_latest(registry).decode()
    last = EvaluationCycle.objects.filter(skipped=False).get()
    assert "alert_evaluation_cycles_total 1.0" in text
    assert "alert_evaluation_skipped_cycles_total 1.0" in text
    assert last.duration_ms is not None
    assert f"alert_evaluation_duration_seconds {last.duration_ms / 1000}" in text
    assert "alert_evaluation_lag_seconds 4.0" in text
    assert 'alerts_open{severity="error",state="pending"} 1.0' in text


def test_the_evaluation_job_runs_every_interval() -> None:
    [job] = [job for job in JOBS if job.name == "alerts.evaluate"]
    assert (job.name, job.func, job.minutes) == (
        "alerts.evaluate",
        "alerts.tasks.evaluate_rules",
        1,
    )


@pytest.mark.django_db
def test_cleanup_prunes_old_resolved_alerts_and_cycles_but_never_open_alerts(
    make_rule: Callable[..., Rule], clock: Any
) -> None:
    rule = make_rule(for_seconds=0)
    other = make_rule(for_seconds=0)
    apply_evaluation(rule=rule, result=scalar(500), now=timezone.now())
    apply_evaluation(rule=other, result=scalar(500), now=timezone.now())
    EvaluationCycle.objects.create(started_at=timezone.now(), scheduled_for=timezone.now())
    clock.shift(60)
    apply_evaluation(rule=rule, result=scalar(5), now=timezone.now())
    clock.shift(91 * 86400)
    removed = run_cleanups()
    assert removed["resolved alerts"] == 1
    assert removed["evaluation cycles"] == 1
    assert list(Alert.objects.values_list("rule", "state")) == [(other.pk, "firing")]
    assert not AlertEvent.objects.filter(alert__rule=rule).exists()


def _overlapping(workers: int, work: Callable[[], Any]) -> list[Any]:
    """Run ``work`` in threads on their own connections, all released by one barrier.

    On PostgreSQL each thread has opened its transaction and talked to the server before the
    barrier, so the transactions provably overlap (distinct backend PIDs, all open at once).
    SQLite runs one writer at a time by design (IMMEDIATE transactions wait on the file's write
    lock); the in-memory test database's shared cache answers "table is locked" instead of
    waiting, so there the threads start together and take turns as a file database makes them.
    """
    barrier = threading.Barrier(workers, timeout=20)
    pids: list[int] = []
    results: list[Any] = []
    errors: list[BaseException] = []
    postgres = connection.vendor == "postgresql"
    one_writer = threading.Lock()

    def run() -> None:
        try:
            if postgres:
                with transaction.atomic():
                    with connection.cursor() as cursor:
                        cursor.execute("SELECT pg_backend_pid()")
                        pids.append(cursor.fetchone()[0])
                    barrier.wait()
                    results.append(work())
            else:
                barrier.wait()
                with one_writer:
                    results.append(work())
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    if postgres:
        assert len(set(pids)) == workers  # separate connections, all in a transaction at once
    return results


@pytest.mark.django_db(transaction=True)
def test_two_overlapping_evaluators_write_one_alert_and_one_event_per_change(
    make_rule: Callable[..., Rule], clock: Any, a_channel: Any
) -> None:
    rule = make_rule(for_seconds=60)
    now = timezone.now()
    _overlapping(2, lambda: apply_evaluation(rule=rule, result=scalar(500), now=now))
    later = now + timedelta(seconds=60)
    _overlapping(2, lambda: apply_evaluation(rule=rule, result=scalar(500), now=later))
    resolved_at = later + timedelta(seconds=60)
    _overlapping(2, lambda: apply_evaluation(rule=rule, result=scalar(5), now=resolved_at))
    alert = Alert.objects.get(rule=rule)
    assert alert.state == "resolved"
    kinds = list(alert.events.order_by("at", "pk").values_list("kind", flat=True))
    assert kinds == ["pending", "firing", "resolved"]


@pytest.mark.django_db(transaction=True)
def test_two_overlapping_cycles_raise_one_alert(
    make_rule: Callable[..., Rule], clock: Any, a_channel: Any
) -> None:
    queue_rows(1500)
    make_rule(expression="max(queue_size)", threshold=1000, for_seconds=0)
    cycles = _overlapping(2, run_cycle)
    assert len(cycles) == 2
    assert Alert.objects.count() == 1
    kinds = sorted(AlertEvent.objects.values_list("kind", flat=True))
    assert kinds == ["firing", "pending"]


@pytest.mark.django_db
def test_metrics_serves_the_evaluation_figures_from_the_rows(
    make_rule: Callable[..., Rule], clock: Any, client: Any
) -> None:
    make_rule(expression="max(queue_size)")
    clock.shift(4)
    run_cycle()
    claim_lease(holder="other", now=timezone.now())
    run_cycle()
    response = client.get("/metrics")
    assert response.status_code == 200
    text = response.content.decode()
    assert "# TYPE alert_evaluation_skipped_cycles_total counter" in text
    assert "alert_evaluation_skipped_cycles_total 1.0" in text
    assert "alert_evaluation_cycles_total 1.0" in text
    assert "alert_evaluation_lag_seconds 4.0" in text


@pytest.mark.django_db
def test_the_evaluate_rules_command_runs_a_cycle_and_names_failing_rules(
    make_rule: Callable[..., Rule], clock: Any
) -> None:
    from io import StringIO

    from django.core.management import call_command

    queue_rows(1500)
    make_rule(expression="max(queue_size)", threshold=1000, for_seconds=60)
    broken = make_rule(name="Broken", slug="broken")
    Rule.objects.filter(pk=broken.pk).update(expression="max(gone_metric)")
    out = StringIO()
    call_command("evaluate_rules", stdout=out)
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("2 rules in ")
    assert lines[0].endswith(": 1 alert changes, 1 errors")
    assert lines[1].startswith("  broken: ") and "gone_metric" in lines[1]


@pytest.mark.django_db
def test_the_lag_of_scheduled_cycles_is_their_delay_past_the_minute_they_were_due(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Issue #13: bootstrapped at 12:00:47, the schedule ran at 47 s into every minute and the
    lag read 44-57 s. Due on the minute, each run is late by the scheduler's wake-up only."""
    import time_machine
    from django_q.brokers.orm import ORM
    from django_q.models import OrmQ

    from monitoring_site import jobs
    from tests.monitoring_site.test_jobs import run_scheduler

    [evaluate] = [job for job in JOBS if job.name == "alerts.evaluate"]
    monkeypatch.setattr(jobs, "all_jobs", lambda: [evaluate])
    start = T0.replace(second=0)
    jobs.install_schedules(now=start + timedelta(seconds=47))
    broker = ORM(list_key="issue13-lag")
    lags = []
    # The scheduler wakes every 30 s, at :50 and :20; each task it makes runs at once.
    for offset in range(50, 50 + 4 * 60, 30):
        with time_machine.travel(start + timedelta(seconds=offset), tick=False):
            run_scheduler(broker)
            for queued in OrmQ.objects.all():
                jobs.run_job(*queued.task["args"])
                queued.delete()
                lags.append(EvaluationCycle.objects.latest("started_at").lag_ms / 1000)
    assert lags == [20.0, 20.0, 20.0, 20.0]
    registry = CollectorRegistry()
    registry.register(EvaluationCollector())
    assert "alert_evaluation_lag_seconds 20.0" in generate_latest(registry).decode()
