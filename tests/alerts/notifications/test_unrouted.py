"""Alerts that no channel can carry are recorded and shown, and the warning clears by itself.

Issue #11, item 5: on a fresh install with no channel, five critical service_down alerts fired,
the log said "queued for notification", nothing was written, escalation moved them to level 2
and the admin showed "Last notified". Nobody was told, and nothing said so.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from io import StringIO
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from alerts.bootstrap import seed
from alerts.models import (
    Alert,
    AlertEscalation,
    EscalationPolicy,
    Notification,
    NotificationChannel,
    Rule,
)
from alerts.notifications.channel_health import raise_self_alert
from alerts.notifications.escalation import escalate_due
from alerts.notifications.routing import routing_gaps
from health.models import Service
from health.probes.base import ProbeResult
from health.services import record_round
from tests.alerts.notifications.conftest import drain, rows
from tests.support.fake_vendors import SlackServer

pytestmark = pytest.mark.django_db

CRITICAL = ("auth", "payment", "order", "ticket", "event")
NO_CHANNELS = {
    "ALERT_TO_EMAIL": [],
    "SLACK_WEBHOOK_URL": "",
    "SLACK_TOKEN": "",
    "PAGERDUTY_ROUTING_KEY": "",
    "ONCALL_EMAIL": [],
    "TEAM_LEAD_EMAIL": [],
    "ENG_MANAGER_EMAIL": [],
}


@pytest.fixture
def fresh_install(settings: Any, clock: Any) -> Rule:
    """What bootstrap seeds with no channel variable set: rules and policies, no channel."""
    for name, value in NO_CHANNELS.items():
        setattr(settings, name, value)
    seed(lambda line: None)
    assert not NotificationChannel.objects.exists()
    return Rule.objects.get(slug="service_down")


@pytest.fixture
def outage(
    fresh_install: Rule, django_capture_on_commit_callbacks: Any
) -> Callable[[], list[Alert]]:
    """Five independent critical services go down in one health round."""

    def run() -> list[Alert]:
        services = [
            Service.objects.create(
                slug=slug, name=slug.title(), target=f"http://{slug}:3000", critical=True,
                failure_threshold=1, state="up",
            )
            for slug in CRITICAL
        ]  # fmt: skip
        with django_capture_on_commit_callbacks(execute=True):
            record_round(
                results={s.pk: ProbeResult.down("connection refused") for s in services},
                checked_at=timezone.now(),
            )
        return list(Alert.objects.filter(source="health").order_by("pk"))

    return run


@pytest.fixture
def console(db: Any) -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw-123456789"))
    return client


def test_an_alert_no_channel_can_carry_is_recorded_as_unrouted_not_as_notified(
    outage: Callable[[], list[Alert]], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        alerts = outage()
    assert [a.state for a in alerts] == ["firing"] * 5
    for alert in alerts:
        assert alert.last_notified_at is None
        assert alert.unrouted_since == alert.fired_at
        assert alert.unrouted_reason == "no notification channel is configured"
        kinds = list(alert.events.values_list("kind", flat=True))
        assert kinds == ["pending", "firing", "unrouted"]
        firing = alert.events.get(kind="firing")
        assert firing.details["notify"] is False
        assert firing.details["unrouted"] == "no notification channel is configured"
    assert Notification.objects.count() == 0
    assert not AlertEscalation.objects.exists()
    messages = [r.getMessage() for r in caplog.records]
    assert "alert event queued for notification" not in messages
    assert messages.count("alert reached no notification channel") == 5


def test_escalation_does_not_pretend_and_says_no_channel(
    outage: Callable[[], list[Alert]], clock: Any
) -> None:
    [payment, *_] = outage()
    for _ in range(60):
        clock.shift(60)
        escalate_due()
    payment.refresh_from_db()
    assert payment.last_notified_at is None
    assert Notification.objects.count() == 0
    assert list(payment.events.values_list("kind", flat=True)) == ["pending", "firing", "unrouted"]


def test_a_level_that_reaches_no_channel_is_recorded_on_the_alert_not_announced(
    make_channel: Callable[..., NotificationChannel],
    make_policy: Callable[..., EscalationPolicy],
    fire: Callable[..., Alert],
    slack_server: SlackServer,
    clock: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    slack = make_channel("Slack", "slack", {"webhook_url": slack_server.webhook_url})
    make_policy("Critical", ("On-call engineer", 5, [slack]), ("Team lead", 15, []))
    alert = fire(channels=[], severity="critical")
    assert rows(alert=alert) == [("Slack", "firing", 1)]
    clock.shift(5 * 60)
    with caplog.at_level(logging.INFO):
        escalate_due()
    assert rows(alert=alert) == [("Slack", "firing", 1)]
    event = alert.events.get(kind="unrouted")
    assert event.details == {
        "level": 2,
        "reason": "escalation level 2 (Team lead) of Critical has no channel",
    }
    messages = [r.getMessage() for r in caplog.records]
    assert "alert escalated" not in messages
    assert "escalation level reached no notification channel" in messages
    assert AlertEscalation.objects.get(alert=alert).level == 2


def test_an_alert_whose_channels_all_fail_permanently_is_unrouted(
    make_channel: Callable[..., NotificationChannel], fire: Callable[..., Alert], clock: Any
) -> None:
    hook = make_channel(
        "Ops webhook", "webhook", {"url": "https://hooks.example.com/x", "secret": "s" * 32}
    )
    raise_self_alert(channel=hook, reason="HTTP 410 Gone", now=timezone.now())
    NotificationChannel.objects.filter(pk=hook.pk).update(failing_since=timezone.now())
    alert = fire(channels=["webhook"])
    alert.refresh_from_db()
    assert alert.unrouted_reason == "every channel it routes to is failing: Ops webhook"
    assert rows(alert=alert) == [("Ops webhook", "firing", None)]  # kept, in case it recovers


def test_a_working_channel_added_later_carries_the_alerts_and_the_warning_clears(
    outage: Callable[[], list[Alert]],
    make_channel: Callable[..., NotificationChannel],
    slack_server: SlackServer,
    clock: Any,
) -> None:
    alerts = outage()
    assert routing_gaps().unrouted_alerts == 5
    clock.shift(120)
    make_channel("Slack", "slack", {"webhook_url": slack_server.webhook_url})
    clock.shift(40)
    escalate_due()  # the minute job routes what could not be routed
    drain(clock)
    assert len(slack_server.messages) == 5
    for alert in alerts:
        alert.refresh_from_db()
        assert (alert.unrouted_since, alert.unrouted_reason) == (None, "")
        assert alert.last_notified_at is not None
        last = alert.events.last()
        assert last is not None
        assert (last.kind, last.details) == ("routed", {"channels": ["Slack"]})
    gaps = routing_gaps()
    assert gaps.unrouted_alerts == 0
    # The seeded policies still reach nobody (their levels wait for e-mail addresses).
    assert gaps.policies == {"Critical": [1, 2, 3], "Error": [1, 2]}


def test_the_gaps_list_rules_and_policies_that_reach_no_working_channel(
    make_channel: Callable[..., NotificationChannel],
    make_rule: Callable[..., Rule],
    make_policy: Callable[..., EscalationPolicy],
    slack_server: SlackServer,
) -> None:
    make_rule(name="Queue backlog", channels=["slack"], severity="warning")
    make_rule(name="Quiet rule", channels=["email"], severity="info", enabled=False)
    assert routing_gaps().rules == ["Queue backlog"]
    assert not routing_gaps().ok
    slack = make_channel("Slack", "slack", {"webhook_url": slack_server.webhook_url})
    assert routing_gaps().rules == []
    assert routing_gaps().ok
    make_policy("Critical", ("On-call", 5, [slack]))
    make_rule(name="Checkout down", channels=[], severity="critical")
    assert routing_gaps().ok
    NotificationChannel.objects.filter(pk=slack.pk).update(enabled=False)
    gaps = routing_gaps()
    assert (gaps.rules, gaps.policies) == (["Checkout down", "Queue backlog"], {"Critical": [1]})
    NotificationChannel.objects.filter(pk=slack.pk).update(enabled=True)
    raise_self_alert(channel=slack, reason="HTTP 404 no_service", now=timezone.now())
    NotificationChannel.objects.filter(pk=slack.pk).update(failing_since=timezone.now())
    assert routing_gaps().rules == ["Checkout down", "Queue backlog"]


def test_the_admin_the_dashboard_and_health_detailed_warn_until_a_channel_works(
    outage: Callable[[], list[Alert]],
    console: Client,
    viewer_client: APIClient,
    viewer: User,
    make_channel: Callable[..., NotificationChannel],
    slack_server: SlackServer,
    settings: Any,
) -> None:
    outage()
    warning = "5 open alerts reached no notification channel"
    for page in ("/admin/", "/admin/alerts/alert/", "/admin/alerts/rule/"):
        assert warning in console.get(page).content.decode(), page
    detailed = viewer_client.get("/api/v1/monitoring/health/detailed").json()
    [notice] = detailed["notices"]
    assert notice["code"] == "unrouted"
    assert warning in notice["message"]
    dashboard = Client()
    dashboard.force_login(viewer)
    assert dashboard.get("/dashboard/data").json()["notices"] == detailed["notices"]

    # A working channel for every rule and level: the warning goes away by itself.
    slack = make_channel("Slack", "slack", {"webhook_url": slack_server.webhook_url})
    make_channel("Email", "email", {"to": ["ops@tickettoken.example"]})
    for level in EscalationPolicy.objects.get(name="Critical").levels.all():
        level.channels.set([slack])
    for level in EscalationPolicy.objects.get(name="Error").levels.all():
        level.channels.set([slack])
    escalate_due()
    assert "reached no notification channel" not in console.get("/admin/").content.decode()
    assert viewer_client.get("/api/v1/monitoring/health/detailed").json()["notices"] == []
    assert dashboard.get("/dashboard/data").json()["notices"] == []


def test_bootstrap_says_how_to_configure_a_channel_when_none_works(settings: Any) -> None:
    for name, value in NO_CHANNELS.items():
        setattr(settings, name, value)
    out = StringIO()
    call_command("bootstrap", stdout=out)
    text = out.getvalue()
    assert "no working notification channel: alerts will reach nobody" in text
    for hint in ("SLACK_WEBHOOK_URL", "ALERT_TO_EMAIL", "SMTP_HOST", "PAGERDUTY_ROUTING_KEY"):
        assert hint in text
    assert "/admin/alerts/notificationchannel/" in text


def test_bootstrap_is_quiet_about_channels_when_one_is_configured(settings: Any) -> None:
    for name, value in NO_CHANNELS.items():
        setattr(settings, name, value)
    settings.SLACK_WEBHOOK_URL = "https://hooks.slack.com/services/T0/B0/secretpart"
    out = StringIO()
    call_command("bootstrap", stdout=out)
    assert "no working notification channel" not in out.getvalue()
    assert "secretpart" not in out.getvalue()


def test_the_api_shows_an_unrouted_alert_as_such(
    outage: Callable[[], list[Alert]], viewer_client: APIClient
) -> None:
    [payment, *_] = outage()
    body = viewer_client.get(f"/api/v1/monitoring/alerts/{payment.pk}").json()
    assert (body["last_notified_at"], body["unrouted_reason"]) == (
        None,
        "no notification channel is configured",
    )
    assert body["unrouted_since"] is not None
    assert [e["kind"] for e in body["events"]] == ["pending", "firing", "unrouted"]
