"""Escalation level by level under a moved clock, reminders, and acknowledgement stopping it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core import mail
from django.test import Client
from django.utils import timezone

from alerts.models import (
    Alert,
    AlertEscalation,
    EscalationPolicy,
    Notification,
    NotificationChannel,
)
from alerts.notifications.escalation import escalate_due
from alerts.services import resolve_alert
from tests.alerts.notifications.conftest import drain, rows
from tests.support.fake_vendors import PagerDutyServer

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(make_channel: Callable[..., NotificationChannel]) -> dict[str, NotificationChannel]:
    def person(name: str, address: str) -> NotificationChannel:
        return make_channel(f"{name} email", "email", {"to": [address]}, for_rule_kinds=False)

    return {
        "oncall": person("On-call engineer", "oncall@tickettoken.example"),
        "lead": person("Team lead", "lead@tickettoken.example"),
        "manager": person("Engineering manager", "manager@tickettoken.example"),
    }


@pytest.fixture
def critical(make_policy: Callable[..., EscalationPolicy], people: dict) -> EscalationPolicy:
    return make_policy(
        "Critical",
        ("On-call engineer", 5, [people["oncall"]]),
        ("Team lead", 15, [people["lead"]]),
        ("Engineering manager", 30, [people["manager"]]),
    )


def run_minutes(clock: Any, start: Any, minutes: int) -> dict[int, list[tuple]]:
    """Run the escalation job at each whole minute after ``start``; what each minute queued."""
    steps: dict[int, list[tuple]] = {}
    for minute in range(1, minutes + 1):
        clock.move_to(start + timedelta(minutes=minute))
        before = Notification.objects.count()
        escalate_due()
        new = rows()[before:]
        if new:
            steps[minute] = new
    return steps


def test_an_unacknowledged_alert_climbs_level_by_level_then_reminds_up_to_the_cap(
    fire: Callable[..., Alert], critical: EscalationPolicy, clock: Any
) -> None:
    start = timezone.now()
    alert = fire(channels=[], severity="critical")
    assert rows() == [("On-call engineer email", "firing", 1)]

    steps = run_minutes(clock, start, 150)

    assert steps == {
        5: [("Team lead email", "escalated", 2)],
        20: [("Engineering manager email", "escalated", 3)],
        50: [("Engineering manager email", "reminder", 3)],
        80: [("Engineering manager email", "reminder", 3)],
    }
    escalation = AlertEscalation.objects.get(alert=alert)
    assert (escalation.level, escalation.reminders_sent, escalation.stopped_reason) == (
        3,
        2,
        "reminders exhausted",
    )


def test_each_level_is_emailed_to_its_own_person(
    fire: Callable[..., Alert], critical: EscalationPolicy, clock: Any
) -> None:
    start = timezone.now()
    fire(channels=[], severity="critical")
    run_minutes(clock, start, 20)
    drain(clock, limit=timedelta(seconds=1))

    assert [(m.to, m.extra_headers["X-Alert-Event"]) for m in mail.outbox] == [
        (["oncall@tickettoken.example"], "firing"),
        (["lead@tickettoken.example"], "escalated"),
        (["manager@tickettoken.example"], "escalated"),
    ]


def test_escalation_is_not_delayed_by_a_late_job_and_counts_from_the_level_notified(
    fire: Callable[..., Alert], critical: EscalationPolicy, clock: Any
) -> None:
    start = timezone.now()
    alert = fire(channels=[], severity="critical")
    clock.move_to(start + timedelta(minutes=7))  # the job was down for two minutes
    assert escalate_due() == 1
    assert escalate_due() == 0  # one step per due time, never two

    escalation = AlertEscalation.objects.get(alert=alert)
    assert (escalation.level, escalation.next_at) == (2, start + timedelta(minutes=22))


def test_acknowledging_by_the_api_stops_escalation_and_acknowledges_pagerduty(
    fire: Callable[..., Alert],
    critical: EscalationPolicy,
    pagerduty: NotificationChannel,
    pagerduty_server: PagerDutyServer,
    clock: Any,
    operator_client: Any,
) -> None:
    start = timezone.now()
    alert = fire(channels=["pagerduty"], severity="critical")
    run_minutes(clock, start, 6)
    drain(clock, limit=timedelta(seconds=1))

    response = operator_client.post(f"/api/v1/monitoring/alerts/{alert.pk}/acknowledge")
    assert response.status_code == 200
    assert run_minutes(clock, timezone.now(), 120) == {}
    drain(clock, limit=timedelta(seconds=1))

    assert rows(kind="acknowledged") == [
        ("On-call engineer email", "acknowledged", None),
        ("Team lead email", "acknowledged", None),
        ("PagerDuty", "acknowledged", None),
    ]
    [incident] = pagerduty_server.incidents
    assert incident.status == "acknowledged"
    assert [e["event_action"] for e in incident.events] == ["trigger", "acknowledge"]


def test_acknowledging_by_the_admin_action_stops_escalation(
    fire: Callable[..., Alert], critical: EscalationPolicy, clock: Any, db: Any
) -> None:
    start = timezone.now()
    alert = fire(channels=[], severity="critical")
    superuser = User.objects.create_superuser("root", "root@example.com", "pw-1234567890")
    client = Client()
    client.force_login(superuser)

    response = client.post(
        "/admin/alerts/alert/", {"action": "acknowledge", "_selected_action": [alert.pk]}
    )

    assert response.status_code == 302
    alert.refresh_from_db()
    assert (alert.state, alert.acknowledged_by_name) == ("acknowledged", "root")
    assert run_minutes(clock, start, 60) == {}
    assert rows(kind="acknowledged") == [("On-call engineer email", "acknowledged", None)]


def test_acknowledging_by_the_link_stops_escalation(
    fire: Callable[..., Alert], critical: EscalationPolicy, clock: Any, client: Client
) -> None:
    start = timezone.now()
    alert = fire(channels=[], severity="critical")
    ack_url = Notification.objects.get(kind="firing").payload["ack_url"]

    response = client.post(ack_url.removeprefix("https://monitor.example.com"))

    assert response.status_code == 200
    alert.refresh_from_db()
    assert (alert.state, alert.acknowledged_by_name) == (
        "acknowledged",
        "On-call engineer email (acknowledge link)",
    )
    assert run_minutes(clock, start, 60) == {}


def test_resolving_sends_resolved_to_every_level_notified_and_pagerduty_a_resolve(
    fire: Callable[..., Alert],
    critical: EscalationPolicy,
    pagerduty: NotificationChannel,
    pagerduty_server: PagerDutyServer,
    clock: Any,
) -> None:
    start = timezone.now()
    alert = fire(channels=["pagerduty"], severity="critical")
    run_minutes(clock, start, 21)
    resolve_alert(alert=alert, actor="engine")
    drain(clock)

    assert rows(kind="resolved") == [
        ("On-call engineer email", "resolved", None),
        ("Team lead email", "resolved", None),
        ("Engineering manager email", "resolved", None),
        ("PagerDuty", "resolved", None),
    ]
    assert [m.extra_headers["X-Alert-Event"] for m in mail.outbox][-3:] == ["resolved"] * 3
    [incident] = pagerduty_server.incidents
    assert incident.status == "resolved"
    assert run_minutes(clock, timezone.now(), 60) == {}
