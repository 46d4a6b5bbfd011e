"""A channel's health: its last error, how long it has been failing, and the self-alert.

A channel that fails permanently, or keeps failing for NOTIFY_CHANNEL_FAILING_MINUTES, raises a
self-alert (source "self") that routing sends through every other channel; the channel's next
delivery resolves it.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Q

from alerts.actors import NOTIFICATIONS
from alerts.channels import ChannelError
from alerts.models import Alert, AlertEvent, NotificationChannel
from alerts.models.alerts import fingerprint_for
from alerts.services import InvalidTransition, record_event, resolve_alert

logger = logging.getLogger(__name__)

SELF_RULE = "notification-channel"


def failed(
    *, channel: NotificationChannel, error: ChannelError, now: datetime, attempts: int
) -> None:
    """Record the error on the channel (inside the attempt's transaction)."""
    NotificationChannel.objects.filter(pk=channel.pk).update(
        last_error=error.message[:2000], last_error_at=now
    )
    NotificationChannel.objects.filter(pk=channel.pk, failing_since__isnull=True).update(
        failing_since=now
    )


def maybe_raise(*, channel: NotificationChannel, error: ChannelError, now: datetime) -> None:
    """Raise the channel's self-alert when it failed permanently or has failed for too long."""
    since = NotificationChannel.objects.values_list("failing_since", flat=True).get(pk=channel.pk)
    failing_for = now - since if since else timedelta(0)
    limit = timedelta(minutes=settings.NOTIFY_CHANNEL_FAILING_MINUTES)
    if error.permanent:
        reason = f"A message to {channel.name} failed permanently: {error.message}"
    elif failing_for >= limit:
        minutes = int(failing_for.total_seconds() // 60)
        reason = f"{channel.name} has failed for {minutes} minutes: {error.message}"
    else:
        return
    raise_self_alert(channel=channel, reason=reason, now=now)


def _fingerprint(channel: NotificationChannel) -> str:
    return fingerprint_for(Alert.Source.SELF, SELF_RULE, {"channel": channel.name})


def raise_self_alert(*, channel: NotificationChannel, reason: str, now: datetime) -> Alert | None:
    """Open (firing) the self-alert of ``channel`` unless one is open; None when it was."""

    fingerprint = _fingerprint(channel)
    if Alert.objects.filter(fingerprint=fingerprint).filter(~Q(state="resolved")).exists():
        return None
    alert = Alert(
        source=Alert.Source.SELF,
        fingerprint=fingerprint,
        labels={"channel": channel.name, "kind": channel.kind},
        state=Alert.State.FIRING,
        severity="error",
        rule_name="Notification channel failing",
        summary=f"Notifications to {channel.name} ({channel.kind}) are failing",
        description=reason[:2000],
        details={"channel_id": channel.pk},
        started_at=now,
        fired_at=now,
        last_evaluated_at=now,
    )
    try:
        with transaction.atomic():
            if connection.vendor == "postgresql":  # durable, even inside a dispatcher's run
                with connection.cursor() as cursor:
                    cursor.execute("SET LOCAL synchronous_commit TO on")
            alert.save()
            record_event(alert=alert, kind=AlertEvent.Kind.FIRING, actor=NOTIFICATIONS, now=now)
    except IntegrityError:  # another dispatcher opened it first
        return None
    logger.error("notification channel failing", extra={"channel": channel.name, "alert": alert.pk})
    return alert


def recovered(*, channel: NotificationChannel, now: datetime) -> None:
    """A delivery went through: resolve the channel's open self-alert, if any."""

    open_alerts = Alert.objects.filter(fingerprint=_fingerprint(channel)).exclude(
        state=Alert.State.RESOLVED
    )
    for alert in open_alerts:
        try:
            resolve_alert(
                alert=alert, actor=NOTIFICATIONS, now=now, reason="the channel delivers again"
            )
        except InvalidTransition:
            pass
