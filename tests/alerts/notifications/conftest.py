"""Fixtures of the notification tests: channels on real local servers, a moved clock, helpers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.db import transaction
from django.test.utils import override_settings
from django.utils import timezone

from alerts.models import (
    Alert,
    EscalationLevel,
    EscalationPolicy,
    Notification,
    NotificationChannel,
    Rule,
)
from alerts.notifications.dispatch import Result, dispatch_step
from alerts.services import open_alert
from tests.support.fake_vendors import PagerDutyServer, SlackServer, WebhookReceiver
from tests.support.vendor_fixtures import WEBHOOK_SECRET as SECRET

# The fake vendors' fixtures, shared with the other notification tests.
from tests.support.vendor_fixtures import pagerduty_server as pagerduty_server
from tests.support.vendor_fixtures import slack_server as slack_server
from tests.support.vendor_fixtures import smtp_server as smtp_server
from tests.support.vendor_fixtures import webhook_receiver as webhook_receiver

ROUTING_KEY = "R0UT1NGKEY0123456789abcdefABCDEF"
SITE = "https://monitor.example.com"


@pytest.fixture(autouse=True)
def _notify_settings() -> Iterator[None]:
    """Loopback receivers over http are allowed here; the SSRF test turns that off again."""
    with override_settings(
        SITE_URL=SITE,
        ALERT_FROM_EMAIL="alerts@tickettoken.example",
        ALLOW_HTTP_WEBHOOKS=True,
        WEBHOOK_ALLOW_PRIVATE=True,
        WEBHOOK_ALLOWED_NETWORKS=[],
        CHANNEL_CONNECT_TIMEOUT=2.0,
        CHANNEL_READ_TIMEOUT=2.0,
        NOTIFY_RETRY_BASE_SECONDS=10.0,
        NOTIFY_RETRY_MAX_SECONDS=600.0,
        NOTIFY_LEASE_SECONDS=60.0,
        NOTIFY_SLACK_INTERVAL_SECONDS=1.0,
        NOTIFY_MAX_AGE=timedelta(hours=24),
        NOTIFY_CHANNEL_FAILING_MINUTES=15,
        ACK_LINK_TTL=timedelta(hours=24),
        ESCALATION_MAX_REMINDERS=2,
        EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
    ):
        yield


@pytest.fixture
def make_channel(db: Any) -> Callable[..., NotificationChannel]:
    def make(name: str, kind: str, config: dict[str, Any], **fields: Any) -> NotificationChannel:
        channel = NotificationChannel(name=name, kind=kind, config=config, **fields)
        channel.full_clean()
        channel.save()
        return channel

    return make


@pytest.fixture
def webhook(make_channel: Callable[..., NotificationChannel], webhook_receiver: WebhookReceiver):
    return make_channel(
        "Ops webhook", "webhook", {"url": webhook_receiver.url + "/hook", "secret": SECRET}
    )


@pytest.fixture
def slack(make_channel: Callable[..., NotificationChannel], slack_server: SlackServer):
    return make_channel("Slack", "slack", {"webhook_url": slack_server.webhook_url})


@pytest.fixture
def pagerduty(make_channel: Callable[..., NotificationChannel], pagerduty_server: PagerDutyServer):
    return make_channel("PagerDuty", "pagerduty", {"routing_key": ROUTING_KEY})


@pytest.fixture
def email(make_channel: Callable[..., NotificationChannel]) -> NotificationChannel:
    return make_channel("Email", "email", {"to": ["ops@tickettoken.example"]})


@pytest.fixture
def make_policy(db: Any) -> Callable[..., EscalationPolicy]:
    def make(name: str, *levels: tuple[str, int, list[NotificationChannel]]) -> EscalationPolicy:
        policy = EscalationPolicy.objects.create(name=name)
        for position, (level_name, wait, channels) in enumerate(levels, start=1):
            level = EscalationLevel.objects.create(
                policy=policy, position=position, name=level_name, wait_minutes=wait
            )
            level.channels.set(channels)
        return policy

    return make


@pytest.fixture
def fire(make_rule: Callable[..., Rule]) -> Callable[..., Alert]:
    """Open an alert that fires at once (``for`` zero) for a rule with the given channels."""

    def make(
        *, channels: list[str], severity: str = "warning", labels: dict | None = None, **rule: Any
    ) -> Alert:
        made = make_rule(channels=channels, severity=severity, for_seconds=0, **rule)
        with transaction.atomic():  # as the engine calls it
            alert = open_alert(
                rule=made,
                source=Alert.Source.RULE,
                labels=labels or {"service": "payment"},
                value=250.0,
                now=timezone.now(),
            )
        assert alert is not None and alert.state == Alert.State.FIRING
        return alert

    return make


def rows(**filters: Any) -> list[tuple[str, str, int | None]]:
    """(channel name, kind, escalation level) of the outbox rows, in the order written."""
    return list(
        Notification.objects.filter(**filters)
        .order_by("pk")
        .values_list("channel__name", "kind", "escalation_level")
    )


def drain(clock: Any, *, limit: timedelta = timedelta(hours=25), steps: int = 500) -> list[Result]:
    """Run dispatch steps, moving the clock to each next due time, until the outbox is empty."""
    results: list[Result] = []
    end = timezone.now() + limit
    for _ in range(steps):
        result = dispatch_step()
        if result is not None:
            results.append(result)
            continue
        due = next_due()
        if due is None or due > end:
            break
        if due > timezone.now():
            clock.move_to(due)
    return results


def next_due() -> datetime | None:
    row = (
        Notification.objects.filter(state__in=Notification.PENDING_STATES)
        .order_by("due_at")
        .values_list("due_at", "lease_until")
        .first()
    )
    if row is None:
        return None
    return max(row[0], row[1] or row[0])
