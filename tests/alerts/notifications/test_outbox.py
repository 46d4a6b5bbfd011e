"""Which outbox rows each alert event writes, in the event's own transaction."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone

from alerts.models import Alert, AlertEscalation, Notification, NotificationChannel
from alerts.notifications.messages import from_payload
from alerts.services import acknowledge_alert, resolve_alert
from tests.alerts.notifications.conftest import SITE, rows

pytestmark = pytest.mark.django_db


@pytest.fixture
def channels(make_channel: Callable[..., NotificationChannel]) -> dict[str, NotificationChannel]:
    return {
        "email": make_channel("Email", "email", {"to": ["ops@tickettoken.example"]}),
        "slack": make_channel(
            "Slack", "slack", {"webhook_url": "https://hooks.slack.com/services/T/B/x"}
        ),
        "pagerduty": make_channel("PagerDuty", "pagerduty", {"routing_key": "A" * 32}),
        "oncall": make_channel(
            "On-call engineer email",
            "email",
            {"to": ["oncall@tickettoken.example"]},
            for_rule_kinds=False,
        ),
        "lead": make_channel(
            "Team lead email", "email", {"to": ["lead@tickettoken.example"]}, for_rule_kinds=False
        ),
    }


def test_a_firing_critical_alert_queues_the_rules_channels_and_level_one(
    fire: Callable[..., Alert], channels: dict, make_policy: Callable[..., Any], clock: Any
) -> None:
    make_policy(
        "Critical",
        ("On-call engineer", 5, [channels["oncall"]]),
        ("Team lead", 15, [channels["lead"]]),
    )
    alert = fire(channels=["email", "slack", "pagerduty"], severity="critical")

    assert rows() == [
        ("Email", "firing", None),
        ("Slack", "firing", None),
        ("PagerDuty", "firing", None),
        ("On-call engineer email", "firing", 1),
    ]
    assert set(Notification.objects.values_list("state", "due_at", "created_at")) == {
        ("queued", timezone.now(), timezone.now())
    }
    escalation = AlertEscalation.objects.get(alert=alert)
    assert escalation.policy is not None
    assert (escalation.policy.name, escalation.level, escalation.next_at) == (
        "Critical",
        1,
        timezone.now() + timedelta(minutes=5),
    )


def test_a_channel_named_by_the_rule_and_level_one_gets_one_message(
    fire: Callable[..., Alert], channels: dict, make_policy: Callable[..., Any], clock: Any
) -> None:
    make_policy("Error", ("On-call engineer", 15, [channels["email"], channels["oncall"]]))
    fire(channels=["email"], severity="error")

    assert rows() == [("Email", "firing", 1), ("On-call engineer email", "firing", 1)]


def test_a_warning_alert_reaches_its_rule_channels_only_and_does_not_escalate(
    fire: Callable[..., Alert], channels: dict, make_policy: Callable[..., Any], clock: Any
) -> None:
    make_policy("Critical", ("On-call engineer", 5, [channels["oncall"]]))
    alert = fire(channels=["email", "slack"])

    # The role email is an email channel too, but only escalation levels reach it.
    assert rows() == [("Email", "firing", None), ("Slack", "firing", None)]
    assert not AlertEscalation.objects.filter(alert=alert).exists()


def test_disabled_channels_are_not_queued(
    fire: Callable[..., Alert], channels: dict, clock: Any
) -> None:
    NotificationChannel.objects.filter(name="Slack").update(enabled=False)
    fire(channels=["email", "slack"])

    assert rows() == [("Email", "firing", None)]


def test_the_payload_is_the_alert_message_with_links(
    fire: Callable[..., Alert], channels: dict, clock: Any
) -> None:
    alert = fire(channels=["email"], labels={"service": "payment"})
    row = Notification.objects.get()
    message = from_payload(row.payload)

    assert (message.alert_id, message.event, message.severity, message.value) == (
        alert.pk,
        "firing",
        "warning",
        250.0,
    )
    assert message.labels == {"service": "payment"}
    assert message.summary == "queue at 250 (over 100)"
    assert message.url == f"{SITE}/alerts/{alert.pk}/"  # its page: viewers can open it too
    assert message.ack_url is not None
    assert message.ack_url.startswith(f"{SITE}/alerts/ack/")
    assert message.started_at == alert.started_at


def test_acknowledging_notifies_every_channel_that_was_told_and_stops_escalation(
    fire: Callable[..., Alert],
    channels: dict,
    make_policy: Callable[..., Any],
    clock: Any,
    operator: Any,
) -> None:
    make_policy("Critical", ("On-call engineer", 5, [channels["oncall"]]))
    alert = fire(channels=["slack", "pagerduty"], severity="critical")
    clock.shift(60)
    acknowledge_alert(alert=alert, user=operator)

    assert rows(kind="acknowledged") == [
        ("Slack", "acknowledged", None),
        ("PagerDuty", "acknowledged", None),
        ("On-call engineer email", "acknowledged", None),
    ]
    acked_row = Notification.objects.filter(kind="acknowledged").first()
    assert acked_row is not None
    acked = from_payload(acked_row.payload)
    assert (acked.acknowledged_by, acked.ack_url) == ("otto-operator", None)
    escalation = AlertEscalation.objects.get(alert=alert)
    assert (escalation.stopped_at, escalation.stopped_reason, escalation.next_at) == (
        timezone.now(),
        "acknowledged",
        None,
    )


def test_resolving_notifies_every_channel_that_was_told(
    fire: Callable[..., Alert], channels: dict, clock: Any
) -> None:
    alert = fire(channels=["email", "pagerduty"])
    clock.shift(600)
    resolve_alert(alert=alert, actor="engine")

    assert rows(kind="resolved") == [("Email", "resolved", None), ("PagerDuty", "resolved", None)]
    resolved_row = Notification.objects.filter(kind="resolved").first()
    assert resolved_row is not None
    message = from_payload(resolved_row.payload)
    assert message.resolved_at == timezone.now()


def test_outbox_rows_roll_back_with_the_event(
    fire: Callable[..., Alert], channels: dict, clock: Any
) -> None:
    with pytest.raises(RuntimeError), transaction.atomic():
        fire(channels=["email", "slack"])
        raise RuntimeError("the evaluation failed after the alert fired")

    assert Alert.objects.count() == 0
    assert Notification.objects.count() == 0


def test_a_new_row_wakes_a_dispatcher_once_the_transaction_commits(
    fire: Callable[..., Alert], channels: dict, django_capture_on_commit_callbacks: Any
) -> None:
    from django_q.brokers import get_broker

    broker = get_broker()
    broker.purge_queue()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        fire(channels=["email"])
        assert broker.queue_size() == 0  # nothing before the commit

    assert len(callbacks) >= 1
    assert broker.queue_size() >= 1
    broker.purge_queue()
