"""Escalation: a firing alert nobody acknowledged moves up its policy, level by level.

Each level's wait counts from when that level was notified. After the last level its wait is the
reminder interval, repeated up to ESCALATION_MAX_REMINDERS times. A step is claimed with a
conditional UPDATE on the alert's escalation row, so two jobs never send the same step twice.
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from alerts.models import Alert, AlertEscalation, Notification
from alerts.notifications.outbox import queue
from alerts.silences import hold_or_release

logger = logging.getLogger(__name__)


def escalate_due(*, now: datetime | None = None) -> int:
    """Take every due escalation step; returns how many were taken."""
    now = now or timezone.now()
    due = AlertEscalation.objects.filter(
        stopped_at__isnull=True, next_at__lte=now, alert__state=Alert.State.FIRING
    ).order_by("next_at", "pk")
    # A silenced alert's step is held, and resumed or announced when the silence ends.
    return sum(
        1
        for escalation in due
        if not hold_or_release(escalation, now=now) and step(escalation, now=now)
    )


@transaction.atomic
def step(escalation: AlertEscalation, *, now: datetime) -> bool:
    """Notify the next level (or remind the last one); False when another job took the step."""
    levels = escalation.policy.ordered_levels() if escalation.policy else []
    if not levels:
        return _stop(escalation, now, "no levels")
    following = [level for level in levels if level.position > escalation.level]
    if following:
        target, kind, reminders = following[0], Notification.Kind.ESCALATED, 0
    else:
        if escalation.reminders_sent >= settings.ESCALATION_MAX_REMINDERS:
            return _stop(escalation, now, "reminders exhausted")
        target = levels[-1]
        kind, reminders = Notification.Kind.REMINDER, escalation.reminders_sent + 1
    claimed = AlertEscalation.objects.filter(
        pk=escalation.pk,
        level=escalation.level,
        reminders_sent=escalation.reminders_sent,
        stopped_at__isnull=True,
    ).update(
        level=target.position,
        level_notified_at=now,
        next_at=now + target.wait,
        reminders_sent=reminders,
    )
    if not claimed:
        return False
    alert = Alert.objects.get(pk=escalation.alert_id)
    targets = [(channel, target.position) for channel in target.channels.all() if channel.enabled]
    queue(alert=alert, kind=kind, targets=targets, now=now)
    logger.info(
        "alert escalated",
        extra={"alert": alert.pk, "level": target.position, "kind": kind, "rule": alert.rule_name},
    )
    return True


def _stop(escalation: AlertEscalation, now: datetime, reason: str) -> bool:
    AlertEscalation.objects.filter(pk=escalation.pk, stopped_at__isnull=True).update(
        stopped_at=now, stopped_reason=reason, next_at=None
    )
    return False
