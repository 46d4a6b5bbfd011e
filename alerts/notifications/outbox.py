"""Outbox writes: Notification rows in the transaction of the event that causes them."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.contrib.auth.models import AnonymousUser, User
from django.db import transaction
from django.utils import timezone
from django_q.tasks import async_task

from alerts.actors import API, NOTIFICATIONS, actor_name, user_row
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
from alerts.notifications.routing import firing_route, unrouted_reason
from alerts.services import unmark_notified
from alerts.silences.services import silenced_by, suppress_firing

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
        return announce_firing(alert=alert, event=event)
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


def announce_firing(*, alert: Alert, event: AlertEvent) -> list[Notification]:
    """Queue the firing message to each channel of the alert's route, and start its escalation."""
    route = firing_route(alert)
    reason = unrouted_reason([channel for channel, _ in route.targets])
    if not route.targets:
        record_unrouted(alert=alert, event=event, reason=reason, sent=False)
        return []
    if route.levels:
        start_escalation(
            alert=alert, policy=route.policy, first_wait=route.levels[0].wait, now=event.at
        )
    rows = queue(
        alert=alert, kind=Notification.Kind.FIRING, targets=route.targets, now=event.at, event=event
    )
    if reason:  # queued all the same: a failing channel may recover, and then it delivers
        record_unrouted(alert=alert, event=event, reason=reason, sent=True)
    return rows


def record_unrouted(*, alert: Alert, event: AlertEvent, reason: str, sent: bool) -> None:
    """No working channel carries this firing: say so on the alert and its events.

    With nothing queued (``sent`` false) the alert was not notified: no "last notified", no
    escalation, and the cooldown counts from the last message actually sent for the fingerprint.
    """
    event.details = {**(event.details or {}), "unrouted": reason}
    if not sent:
        event.details["notify"] = False
        unmark_notified(alert=alert)
    event.save(update_fields=["details"])
    alert.unrouted_since, alert.unrouted_reason = event.at, reason[:300]
    Alert.objects.filter(pk=alert.pk).update(
        unrouted_since=alert.unrouted_since, unrouted_reason=alert.unrouted_reason
    )
    AlertEvent.objects.create(
        alert=alert,
        kind=AlertEvent.Kind.UNROUTED,
        actor=NOTIFICATIONS,
        at=event.at,
        details={"reason": reason},
    )
    logger.warning(
        "alert reached no notification channel",
        extra={"alert": alert.pk, "rule": alert.rule_name, "reason": reason},
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
        async_task(DISPATCH_TASK, group="notifications")
    except Exception:  # the broker is down: the minute sweep delivers instead
        logger.warning("could not enqueue a dispatch task; the sweep will deliver", exc_info=True)


@transaction.atomic
def send_synthetic_alert(
    *, user: User | AnonymousUser | None, channels: list[NotificationChannel]
) -> tuple[Alert, list[Notification]]:
    """A synthetic alert through the outbox and dispatchers: a test message per channel.

    The alert is written as it would be (source self, firing) and closed at once, so it never
    escalates or stays open; its messages are marked "test" (PagerDuty resolves its test incident).
    """
    now = timezone.now()
    actor = actor_name(user, default=API)
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
    stored_user = user_row(user)
    event = AlertEvent.objects.create(
        alert=alert,
        kind=AlertEvent.Kind.FIRING,
        actor=actor,
        user=stored_user,
        at=now,
        details={"test": True, "notify": True},
    )
    rows = queue(
        alert=alert,
        kind=Notification.Kind.TEST_MESSAGE,
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
        user=stored_user,
        at=now,
        details={"reason": "test alert", "notify": False},
    )
    alert.refresh_from_db()
    return alert, rows
