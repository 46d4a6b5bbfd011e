"""Silenced alerts: lifecycle recorded, firing not announced, escalation held, resumed after."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from alerts.models import (
    Alert,
    AlertEscalation,
    AlertEvent,
    EscalationPolicy,
    NotificationChannel,
    Rule,
    Silence,
)
from alerts.notifications.escalation import escalate_due
from alerts.services import acknowledge_alert, resolve_alert
from alerts.silences.services import expire_silence, silenced_by
from tests.alerts.silences.conftest import rows

pytestmark = pytest.mark.django_db


def events(alert: Alert) -> list[tuple[str, dict]]:
    return [(e.kind, e.details) for e in AlertEvent.objects.filter(alert=alert).order_by("pk")]


def run_minutes(clock: Any, start: Any, minutes: int) -> dict[int, list[tuple]]:
    """Run the escalation job at each whole minute after ``start``; what each minute queued."""
    steps: dict[int, list[tuple]] = {}
    for minute in range(1, minutes + 1):
        clock.move_to(start + timedelta(minutes=minute))
        before = len(rows())
        escalate_due()
        new = rows()[before:]
        if new:
            steps[minute] = new
    return steps


def test_a_firing_alert_matching_a_silence_writes_no_outbox_row_and_records_the_suppression(
    fire: Callable[..., Alert], ops_email: NotificationChannel, silence: Any, clock: Any
) -> None:
    muted = silence(("service", "=", "payment"))

    alert = fire(labels={"service": "payment"})

    assert rows() == []
    assert [kind for kind, _ in events(alert)] == ["pending", "firing"]
    assert events(alert)[1][1] == {
        "value": 250.0,
        "notify": False,
        "suppressed": f"silence:{muted.pk}",
    }
    alert.refresh_from_db()
    assert alert.state == Alert.State.FIRING
    assert alert.last_notified_at is None


def test_an_alert_the_silence_does_not_match_is_announced(
    fire: Callable[..., Alert], ops_email: NotificationChannel, silence: Any, clock: Any
) -> None:
    silence(("service", "=", "payment"))

    fire(labels={"service": "order"})

    assert rows() == [("Ops email", "firing", None)]


def test_a_silence_that_has_not_started_or_has_ended_does_not_mute(
    fire: Callable[..., Alert],
    make_rule: Callable[..., Rule],
    ops_email: NotificationChannel,
    silence: Any,
    clock: Any,
) -> None:
    muted = silence(("service", "=", "payment"), minutes=30)
    Silence.objects.filter(pk=muted.pk).update(starts_at=timezone.now() + timedelta(minutes=10))

    first = fire(labels={"service": "payment"})
    assert rows(alert=first) == [("Ops email", "firing", None)]

    clock.shift(15 * 60)  # inside the window
    second = fire(labels={"service": "payment", "instance": "b"})
    assert rows(alert=second) == []

    clock.shift(20 * 60)  # after its end
    third = fire(labels={"service": "payment", "instance": "c"})
    assert rows(alert=third) == [("Ops email", "firing", None)]


def test_resolved_messages_still_go_to_the_channels_that_were_notified(
    fire: Callable[..., Alert], ops_email: NotificationChannel, silence: Any, clock: Any
) -> None:
    alert = fire(labels={"service": "payment"})
    assert rows() == [("Ops email", "firing", None)]
    silence(("service", "=", "payment"))

    clock.shift(60)
    resolve_alert(alert=alert, actor="engine")

    assert rows() == [("Ops email", "firing", None), ("Ops email", "resolved", None)]


def test_an_alert_silenced_from_its_firing_resolves_without_any_message(
    fire: Callable[..., Alert], ops_email: NotificationChannel, silence: Any, clock: Any
) -> None:
    alert = fire(labels={"service": "payment"})  # fired before the silence: announced
    resolve_alert(alert=alert, actor="engine")
    silence(("service", "=", "payment"))
    clock.shift(60)

    again = fire(rule=alert.rule, labels={"service": "payment"})
    clock.shift(60)
    resolve_alert(alert=again, actor="engine")

    assert rows(alert=again) == []
    assert events(again)[-1][0] == "resolved"
    assert events(again)[-1][1]["notify"] is False


def test_escalation_does_not_advance_while_silenced_and_the_wait_restarts_when_it_ends(
    fire: Callable[..., Alert], critical: EscalationPolicy, silence: Any, clock: Any
) -> None:
    start = timezone.now()
    alert = fire(severity="critical", labels={"service": "payment"})
    assert rows() == [("On-call engineer email", "firing", 1)]
    clock.move_to(start + timedelta(minutes=2))
    silence(("service", "=", "payment"), minutes=20)  # until minute 22

    steps = run_minutes(clock, start, 60)

    # Level 1's 5 minutes were due at minute 5: held until minute 22, then 5 more minutes.
    assert steps == {
        27: [("Team lead email", "escalated", 2)],
        42: [("Team lead email", "reminder", 2)],
        57: [("Team lead email", "reminder", 2)],
    }
    assert AlertEscalation.objects.get(alert=alert).level == 2


def test_a_firing_silenced_throughout_is_announced_when_the_silence_ends_then_escalates(
    fire: Callable[..., Alert],
    critical: EscalationPolicy,
    ops_email: NotificationChannel,
    silence: Any,
    clock: Any,
) -> None:
    start = timezone.now()
    muted = silence(("alertname", "=~", "Rule.*"), minutes=10)
    alert = fire(severity="critical", labels={"service": "payment"})
    assert rows() == []

    steps = run_minutes(clock, start, 16)

    assert steps == {
        10: [("Ops email", "firing", None), ("On-call engineer email", "firing", 1)],
        15: [("Team lead email", "escalated", 2)],
    }
    announced = events(alert)[-1]
    assert announced == ("updated", {"reason": "silence ended while firing", "notify": True})
    alert.refresh_from_db()
    assert alert.last_notified_at == start + timedelta(minutes=10)
    assert events(alert)[1][1]["suppressed"] == f"silence:{muted.pk}"


def test_expiring_a_silence_early_resumes_at_the_next_job_run(
    fire: Callable[..., Alert],
    critical: EscalationPolicy,
    operator: User,
    silence: Any,
    clock: Any,
) -> None:
    start = timezone.now()
    muted = silence(("service", "=", "payment"), minutes=120)
    fire(severity="critical", labels={"service": "payment"})
    clock.move_to(start + timedelta(minutes=3))
    escalate_due()  # the deferred announcement is held until minute 120
    assert rows() == []

    expire_silence(silence=muted, user=operator)
    steps = run_minutes(clock, start + timedelta(minutes=3), 1)

    assert steps == {1: [("On-call engineer email", "firing", 1)]}
    muted.refresh_from_db()
    assert muted.ends_at == start + timedelta(minutes=3)
    assert muted.expired_by == operator


def test_an_acknowledged_alert_fired_under_a_silence_is_never_announced(
    fire: Callable[..., Alert],
    critical: EscalationPolicy,
    operator: User,
    silence: Any,
    clock: Any,
) -> None:
    start = timezone.now()
    silence(("service", "=", "payment"), minutes=10)
    alert = fire(severity="critical", labels={"service": "payment"})
    clock.shift(120)
    acknowledge_alert(alert=alert, user=operator)

    steps = run_minutes(clock, start, 30)

    assert steps == {}
    assert events(alert)[-1][0] == "acknowledged"


def test_the_silence_ending_last_is_the_one_recorded(
    fire: Callable[..., Alert], ops_email: NotificationChannel, silence: Any, clock: Any
) -> None:
    silence(("service", "=", "payment"), minutes=30)
    longer = silence(("severity", "=", "warning"), minutes=90)

    alert = fire(labels={"service": "payment"})

    assert silenced_by(alert, timezone.now()) == longer
    assert events(alert)[1][1]["suppressed"] == f"silence:{longer.pk}"


def test_the_cooldown_counts_from_the_last_message_sent_not_from_a_silenced_firing(
    fire: Callable[..., Alert], ops_email: NotificationChannel, silence: Any, clock: Any
) -> None:
    first = fire(labels={"service": "payment"}, cooldown_seconds=10 * 60)
    resolve_alert(alert=first, actor="engine")
    silence(("service", "=", "payment"), minutes=20)
    clock.shift(12 * 60)  # past the cooldown, inside the silence
    muted = fire(rule=first.rule, labels={"service": "payment"})
    resolve_alert(alert=muted, actor="engine")

    clock.shift(9 * 60)  # 21 minutes after the only message sent, 9 after the silenced firing
    loud = fire(rule=first.rule, labels={"service": "payment"})

    assert events(muted)[1][1]["suppressed"].startswith("silence:")
    assert rows(alert=muted) == []
    assert rows(alert=loud) == [("Ops email", "firing", None)]
