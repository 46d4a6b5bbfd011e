"""Channel checks: one test message to one channel, sent at once (``check_channels``, the admin).

Not to be confused with a *synthetic alert* (``POST /api/alerts/test``, ``outbox``), which goes
through the whole pipeline; both send notifications of kind ``Notification.Kind.TEST_MESSAGE``.
"""

from __future__ import annotations

from dataclasses import dataclass

import requests
from django.conf import settings
from django.utils import timezone

from alerts.channels import AlertMessage
from alerts.models import Notification, NotificationChannel
from alerts.notifications.dispatch import deliver_now
from alerts.notifications.messages import to_payload


@dataclass(frozen=True)
class ChannelCheck:
    """Whether the test message reached the vendor, and what it answered or why it failed."""

    channel: NotificationChannel
    delivered: bool
    detail: str

    def line(self) -> str:
        verdict = "delivered" if self.delivered else "FAILED"
        return f"{self.channel.name} ({self.channel.kind}): {verdict} - {self.detail}"


def build_check_message(channel: NotificationChannel) -> AlertMessage:
    now = timezone.now()
    return AlertMessage(
        alert_id=0,
        fingerprint=f"test-{channel.pk}-{int(now.timestamp())}",
        event="test",
        rule_name="Test notification",
        severity="info",
        labels={"channel": channel.name},
        value=None,
        threshold=None,
        operator="",
        summary=f"Test notification through {channel.name}",
        description="If you can read this, alerts reach this channel.",
        started_at=now,
        resolved_at=None,
        acknowledged_by="",
        url=settings.SITE_URL + "/admin/alerts/notificationchannel/",
        ack_url=None,
        escalation_level=None,
    )


def check_channel(channel: NotificationChannel) -> ChannelCheck:
    """Queue one test row for ``channel`` and deliver it now (one attempt, recorded)."""
    now = timezone.now()
    row = Notification.objects.create(
        channel=channel,
        kind=Notification.Kind.TEST_MESSAGE,
        payload=to_payload(build_check_message(channel)),
        due_at=now,
        created_at=now,
    )
    row, attempt = deliver_now(row)
    if row.state == Notification.State.DELIVERED:
        receipt = attempt.receipt if attempt else ""
        code = f"{attempt.status} " if attempt and attempt.status else ""
        return ChannelCheck(channel, True, f"{code}{receipt}".strip() or "accepted")
    reason = row.last_error or "not sent"
    if attempt is not None and attempt.outcome == attempt.Outcome.TRANSIENT:
        reason += " (transient: the outbox would retry it)"
    return ChannelCheck(channel, False, reason)


def check_pagerduty_service() -> ChannelCheck | None:
    """With PAGERDUTY_API_KEY and PAGERDUTY_SERVICE_ID, ask PagerDuty's REST API for the service."""
    key, service = settings.PAGERDUTY_API_KEY, settings.PAGERDUTY_SERVICE_ID
    if not (key and service):
        return None
    row = NotificationChannel(name=f"PagerDuty service {service}", kind="pagerduty")
    url = f"{settings.PAGERDUTY_API_URL.rstrip('/')}/services/{service}"
    try:
        response = requests.get(
            url,
            headers={"Authorization": f"Token token={key}", "Accept": "application/json"},
            timeout=(settings.CHANNEL_CONNECT_TIMEOUT, settings.CHANNEL_READ_TIMEOUT),
        )
    except requests.RequestException as exc:
        return ChannelCheck(row, False, f"PagerDuty API unreachable ({type(exc).__name__})")
    if response.status_code != 200:
        return ChannelCheck(row, False, f"PagerDuty API answered {response.status_code}")
    data = response.json().get("service", {})
    return ChannelCheck(row, True, f"{data.get('name', service)} is {data.get('status', '?')}")
