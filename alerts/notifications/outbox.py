"""Outbox writes: Notification rows in the transaction of the event that causes them."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.contrib.auth.models import AnonymousUser, User
from django.db import transaction
from django.utils import timezone

from alerts.models import (
    Alert,
    AlertEscalation,
    AlertEvent,
    EscalationPolicy,
    Notification,
    NotificationChannel,
)
from alerts.models.alerts import fingerprint_for
from alerts.notifications import links
from alerts.notifications.messages import message_for, to_payload
from alerts.notifications.routing import route_for
from alerts.silences import silenced_by, suppress_firing

logger = logging.getLogger(__name__)

DISPATCH_TASK = "alerts.notifications.tasks.dispatch_due"
# Messages that invite an acknowledgement carry a one-click link.
ACKABLE = (Notification.Kind.FIRING, Notification.Kind.ESCALATED, Notification.Kind.REMINDER)
# What counts as "this channel was told about the alert" for acknowledged/resolved messages.
ANNOUNCING = ACKABLE


def write_for_event(*, alert: Alert, event: AlertEvent) -> list[Notification]:
    """The rows an alert event sends (call inside the event's transaction)."""
    if event.kind == AlertEvent.Kind.FIRING:
        muting = silenced_by(alert, event.at)  # a silence defers the announcement (silences.py)
        if muting is not None:
            return suppress_firing(alert=alert, event=event, muting=muting)
        return _firing(alert=alert, event=event)
    if event.kind in (AlertEvent.Kind.ACKNOWLEDGED, AlertEvent.Kind.RESOLVED):
        stop_escalation(alert=alert, now=event.at, reason=event.kind)
        return queue(
            alert=alert,
            kind=event.kind,
            targets=[(channel, None) for channel in notified_channels(alert)],
            now=event.at,
            event=event,
        )
    return []


def _firing(*, alert: Alert, event: AlertEvent) -> list[Notification]:
    channels, policy = route_for(alert)
    levels = policy.ordered_levels() if policy is not None else []
    targets: dict[int, tuple[NotificationChannel, int | None]] = {
        channel.pk: (channel, None) for channel in channels
    }
    if levels:
        # A channel reached by both the rule and level 1 gets one message (marked level 1).
        for channel in levels[0].channels.all():
            if channel.enabled:
                targets[channel.pk] = (channel, 1)
        start_escalation(alert=alert, policy=policy, first_wait=levels[0].wait, now=event.at)
    return queue(
        alert=alert,
        kind=Notification.Kind.FIRING,
        targets=targets.values(),
        now=event.at,
        event=event,
    )


def notified_channels(alert: Alert) -> list[NotificationChannel]:
    """Enabled channels that were told about ``alert`` (rows not given up as failed)."""
    ids = (
        Notification.objects.filter(alert=alert, kind__in=ANNOUNCING)
        .exclude(state=Notification.State.FAILED)
        .values("channel_id")
    )
    return list(NotificationChannel.objects.filter(pk__in=ids, enabled=True).order_by("pk"))


def queue(
    *,
    alert: Alert,
    kind: str,
    targets: Iterable[tuple[NotificationChannel, int | None]],
    now: datetime,
    event: AlertEvent | None = None,
) -> list[Notification]:
    """One queued row per channel, due now, with the message as it is now."""
    rows = []
    for channel, level in targets:
        message = message_for(alert, event=kind, level=level)
        row = Notification.objects.create(
            alert=alert,
            event=event,
            channel=channel,
            kind=kind,
            escalation_level=level,
            payload=to_payload(message),
            due_at=now,
            created_at=now,
        )
        if kind in ACKABLE:
            row.payload["ack_url"] = links.ack_url(
                alert_id=alert.pk, channel_id=channel.pk, notification_id=row.pk
            )
            row.save(update_fields=["payload"])
        rows.append(row)
    if rows:
        wake_dispatcher()
    return rows


def start_escalation(
    *, alert: Alert, policy: EscalationPolicy | None, first_wait: timedelta, now: datetime
) -> None:
    AlertEscalation.objects.update_or_create(
        alert=alert,
        defaults={
            "policy": policy,
            "level": 1,
            "level_notified_at": now,
            "next_at": now + first_wait,
            "reminders_sent": 0,
            "stopped_at": None,
            "stopped_reason": "",
        },
    )


def stop_escalation(*, alert: Alert, now: datetime, reason: str) -> None:
    AlertEscalation.objects.filter(alert=alert, stopped_at__isnull=True).update(
        stopped_at=now, stopped_reason=reason[:50], next_at=None
    )


def wake_dispatcher() -> None:
    """Start a dispatcher once the transaction commits (the sweep catches a lost wake-up)."""
    transaction.on_commit(_enqueue_dispatch)


def _enqueue_dispatch() -> None:
    try:
        from django_q.tasks import async_task

        async_task(DISPATCH_TASK, group="notifications")
    except Exception:  # the broker is down: the minute sweep delivers instead
        logger.warning("could not enqueue a dispatch task; the sweep will deliver", exc_info=True)


@transaction.atomic
def send_test_alert(
    *, user: User | AnonymousUser | None, channels: list[NotificationChannel]
) -> tuple[Alert, list[Notification]]:
    """A synthetic alert through the outbox and dispatchers: a test message per channel.

    The alert is written as it would be (source self, firing) and closed at once, so it never
    escalates or stays open; its messages are marked "test" (PagerDuty resolves its test incident).
    """
    now = timezone.now()
    actor = getattr(user, "username", "") or "api"
    labels = {"alertname": "test", "requested_by": actor}
    alert = Alert.objects.create(
        source=Alert.Source.SELF,
        fingerprint=fingerprint_for(Alert.Source.SELF, "test", {"id": uuid.uuid4().hex}),
        labels=labels,
        state=Alert.State.FIRING,
        severity="info",
        rule_name="Test alert",
        summary=f"Test alert requested by {actor}",
        description="A synthetic alert to check that notifications reach their channels.",
        started_at=now,
        fired_at=now,
        last_evaluated_at=now,
    )
    user_row = user if user is not None and user.is_authenticated and user.pk else None
    event = AlertEvent.objects.create(
        alert=alert,
        kind=AlertEvent.Kind.FIRING,
        actor=actor,
        user=user_row,
        at=now,
        details={"test": True, "notify": True},
    )
    rows = queue(
        alert=alert,
        kind=Notification.Kind.TEST,
        targets=[(c, None) for c in channels],
        now=now,
        event=event,
    )
    Alert.objects.filter(pk=alert.pk).update(
        state=Alert.State.RESOLVED, resolved_at=now, resolved_by_name=actor[:200]
    )
    AlertEvent.objects.create(
        alert=alert,
        kind=AlertEvent.Kind.RESOLVED,
        actor=actor,
        user=user_row,
        at=now,
        details={"reason": "test alert", "notify": False},
    )
    alert.refresh_from_db()
    return alert, rows
