"""Self-alerts (source self-check): each raised through the lifecycle, resolved by itself."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from alerts.bootstrap import seed
from alerts.engine.evaluator import hold_heartbeat
from alerts.models import Alert, AlertEvent, Notification, NotificationChannel, Rule
from alerts.models.evaluation import EvaluationCycle
from alerts.sources.self_check import BacklogCollector, run_self_checks
from monitoring_site.jobs import run_job
from monitoring_site.models import JobRun
from tests.alerts.conftest import T0

pytestmark = pytest.mark.django_db


def explode() -> None:
    raise RuntimeError("the upstream answered 502")


@pytest.fixture
def rule(db: Any) -> Rule:
    seed(lambda line: None)
    return Rule.objects.get(slug="self_check")


def open_self_alerts() -> dict[str, Alert]:
    rows = Alert.objects.filter(source="self", state__in=Alert.OPEN_STATES)
    return {f"{a.labels['check']}:{a.labels['subject']}": a for a in rows}


def checks_at(clock: Any, moment: Any, *, evaluator: bool = True) -> dict[str, Alert]:
    """The self-alerts open after a check at ``moment`` (an evaluator beat just before)."""
    clock.move_to(moment)
    if evaluator:
        assert hold_heartbeat(holder="the-evaluator", now=timezone.now())
    run_self_checks()
    return open_self_alerts()


def run(clock: Any, moment: Any, name: str, func: Any = None) -> None:
    clock.move_to(moment)
    try:
        run_job(name, func or (lambda: "ok"))
    except RuntimeError:
        pass


def test_a_job_failing_twice_in_a_row_raises_a_self_alert_with_its_runbook(
    rule: Rule, clock: Any, a_channel: NotificationChannel
) -> None:
    run(clock, T0, "metrics.host", explode)
    assert checks_at(clock, T0 + timedelta(seconds=10)) == {}  # once is not twice
    run(clock, T0 + timedelta(minutes=1), "metrics.host", explode)
    alert = checks_at(clock, T0 + timedelta(minutes=1, seconds=10))["job_failing:metrics.host"]
    assert (alert.state, alert.severity, alert.rule_id) == ("firing", "error", rule.pk)
    assert alert.summary == "Job metrics.host failed 2 times in a row"
    assert "RuntimeError: the upstream answered 502" in alert.description
    assert alert.details["runbook"].endswith("docs/operations.md#runbook-job-failing")
    assert f"Runbook: {alert.details['runbook']}" in alert.description
    queued = Notification.objects.get(alert=alert)
    assert (queued.kind, queued.channel_id) == ("firing", a_channel.pk)


def test_a_job_failing_alert_resolves_at_the_next_success(rule: Rule, clock: Any) -> None:
    run(clock, T0, "metrics.host", explode)
    run(clock, T0 + timedelta(minutes=1), "metrics.host", explode)
    alert = checks_at(clock, T0 + timedelta(minutes=1, seconds=10))["job_failing:metrics.host"]
    run(clock, T0 + timedelta(minutes=2), "metrics.host")
    assert checks_at(clock, T0 + timedelta(minutes=2, seconds=10)) == {}
    alert.refresh_from_db()
    assert alert.state == "resolved"
    resolved = AlertEvent.objects.get(alert=alert, kind="resolved")
    assert (resolved.actor, resolved.details["reason"]) == ("self-check", "the problem is gone")


def test_a_job_missing_two_periods_raises_and_its_next_run_resolves_it(
    rule: Rule, clock: Any
) -> None:
    run(clock, T0, "alerts.notify.escalate")
    assert checks_at(clock, T0 + timedelta(minutes=2, seconds=30)) == {}  # one period missed
    found = checks_at(clock, T0 + timedelta(minutes=3, seconds=30))
    alert = found["job_missing:alerts.notify.escalate"]
    assert alert.summary == "Job alerts.notify.escalate missed 2 runs"
    run(clock, T0 + timedelta(minutes=4), "alerts.notify.escalate")
    assert "job_missing:alerts.notify.escalate" not in checks_at(
        clock, T0 + timedelta(minutes=4, seconds=10)
    )


def cycle(at: Any, **fields: Any) -> EvaluationCycle:
    return EvaluationCycle.objects.create(started_at=at, scheduled_for=at, finished_at=at, **fields)


def test_evaluation_lag_over_two_intervals_raises_and_a_fresh_cycle_resolves_it(
    rule: Rule, clock: Any, settings: Any
) -> None:
    settings.RULE_EVALUATION_INTERVAL_SECONDS = 60
    cycle(T0)
    assert checks_at(clock, T0 + timedelta(minutes=3)) == {}  # 120 s behind: not over two
    alert = checks_at(clock, T0 + timedelta(minutes=3, seconds=5))["evaluation_lag:"]
    assert alert.value == 125.0
    assert alert.details["runbook"].endswith("#runbook-evaluation-lag")
    cycle(T0 + timedelta(minutes=3, seconds=30))
    assert checks_at(clock, T0 + timedelta(minutes=3, seconds=40)) == {}


def test_a_silent_evaluator_raises_evaluator_down_and_its_next_beat_resolves_it(
    rule: Rule, clock: Any, settings: Any
) -> None:
    settings.RULE_EVALUATION_INTERVAL_SECONDS = 15
    assert checks_at(clock, T0) == {}
    # The evaluator beat at T0; 29 s later it is within two intervals, at 30 s it is not.
    assert checks_at(clock, T0 + timedelta(seconds=29), evaluator=False) == {}
    alert = checks_at(clock, T0 + timedelta(seconds=30), evaluator=False)["evaluator_down:"]
    assert alert.summary == "The rule evaluator is not running"
    assert T0.isoformat() in alert.description
    assert alert.details["runbook"].endswith("#runbook-evaluator-down")
    assert checks_at(clock, T0 + timedelta(seconds=40)) == {}
    alert.refresh_from_db()
    assert alert.state == "resolved"


def queue_notifications(channel: NotificationChannel, rule: Rule, *moments: Any) -> None:
    alert, _ = Alert.objects.get_or_create(
        fingerprint="backlog",
        defaults={"rule": rule, "rule_name": "x", "started_at": T0, "state": "firing"},
    )
    for moment in moments:
        Notification.objects.create(
            alert=alert, channel=channel, kind="firing", created_at=moment, due_at=moment
        )


def test_a_notification_backlog_growing_for_ten_minutes_raises_and_delivery_resolves_it(
    rule: Rule, clock: Any, a_channel: NotificationChannel
) -> None:
    start = T0 + timedelta(minutes=1)
    queue_notifications(a_channel, rule, start, start)
    assert checks_at(clock, start + timedelta(minutes=10)) == {}  # 2, 2, 2: not growing
    queue_notifications(
        a_channel, rule, start + timedelta(minutes=5), start + timedelta(minutes=10, seconds=30)
    )
    alert = checks_at(clock, start + timedelta(minutes=10, seconds=40))["notification_backlog:"]
    assert alert.details["now"] == 4
    assert alert.summary == "4 notifications wait to be delivered, up from 2"
    clock.move_to(start + timedelta(minutes=11))
    # Every row goes out, the self-alert's own announcement included.
    Notification.objects.update(state="delivered", delivered_at=timezone.now())
    assert "notification_backlog:" not in checks_at(clock, start + timedelta(minutes=11))
    age = next(iter(BacklogCollector().collect())).samples[0].value
    assert age == 0.0


def test_the_oldest_due_notification_age_is_on_metrics(
    rule: Rule, clock: Any, a_channel: NotificationChannel
) -> None:
    queue_notifications(a_channel, rule, T0 - timedelta(seconds=90), T0 + timedelta(minutes=5))
    family = next(iter(BacklogCollector().collect()))
    assert family.name == "monitoring_notification_oldest_due_age_seconds"
    assert family.samples[0].value == 90.0  # the one due in five minutes is not waiting yet


def test_a_full_disk_raises_and_resolves_when_under_the_limit(
    rule: Rule, clock: Any, settings: Any
) -> None:
    settings.SELF_CHECK_DISK_PERCENT = 0.001  # any real disk holding var/ is fuller than this
    alert = checks_at(clock, T0)[f"disk_full:{settings.VAR_DIR}"]
    assert alert.details["used_percent"] > 0.001
    assert alert.details["runbook"].endswith("#runbook-disk-full")
    settings.SELF_CHECK_DISK_PERCENT = 100
    assert checks_at(clock, T0 + timedelta(minutes=1)) == {}


def test_the_workers_return_records_the_outage_and_its_length_once(rule: Rule, clock: Any) -> None:
    for minute in range(3):
        run(clock, T0 + timedelta(minutes=minute), "metrics.host")
    # The cluster dies after 09:02:30 and is back at 09:21:30.
    run(clock, T0 + timedelta(minutes=21), "metrics.host")
    checks_at(clock, T0 + timedelta(minutes=21, seconds=5))
    outage = Alert.objects.get(source="self", labels__check="workers_outage")
    assert outage.summary == "The worker cluster was down for 19 min 0 s"
    assert (outage.state, outage.value) == ("resolved", 1140.0)
    assert outage.started_at == T0 + timedelta(minutes=2)
    kinds = [e.kind for e in outage.events.order_by("pk")]
    assert [kind for kind in kinds if kind != "unrouted"] == ["firing", "resolved"]
    checks_at(clock, T0 + timedelta(minutes=22))
    assert Alert.objects.filter(labels__check="workers_outage").count() == 1


def test_a_disabled_self_check_rule_raises_nothing(rule: Rule, clock: Any) -> None:
    Rule.objects.filter(pk=rule.pk).update(enabled=False)
    run(clock, T0, "metrics.host", explode)
    run(clock, T0 + timedelta(minutes=1), "metrics.host", explode)
    assert checks_at(clock, T0 + timedelta(minutes=1, seconds=10)) == {}


def test_without_the_seeded_rule_the_job_says_to_run_bootstrap(clock: Any, db: Any) -> None:
    assert run_self_checks() == "no self_check rule: run bootstrap"
    assert not JobRun.objects.exists()
