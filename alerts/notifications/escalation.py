"""Escalation: a firing alert nobody acknowledged moves up its policy, level by level.

Each level's wait counts from when that level was notified. After the last level its wait is the
reminder interval, repeated up to ESCALATION_MAX_REMINDERS times. A step is claimed with a
conditional UPDATE on the alert's escalation row, so two jobs never send the same step twice.

A level that reaches no working channel is not announced as if it did: the step is taken (a
later level may reach someone) and an ``unrouted`` event on the alert says which level and why.
The same job gives firing alerts that reached no channel another chance each minute: once a
working channel can carry one, it is sent there and its escalation starts.
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from alerts.actors import NOTIFICATIONS
from alerts.models import (
    Alert,
    AlertEscalation,
    AlertEvent,
    AlertFingerprint,
    EscalationLevel,
    Notification,
)
from alerts.notifications.outbox import ANNOUNCING, announce_firing, queue, start_escalation
from alerts.notifications.routing import FiringRoute, Target, firing_route, level_gap, working
from alerts.silences.services import hold_or_release, silenced_by

logger = logging.getLogger(__name__)


def escalate_due(*, now: datetime | None = None) -> int:
    """Take every due escalation step; returns how many were taken."""
    now = now or timezone.now()
    route_unrouted(now=now)
    due = AlertEscalation.objects.filter(
        stopped_at__isnull=True, next_at__lte=now, alert__state=Alert.State.FIRING
    ).order_by("next_at", "pk")
    # A silenced alert's step is held, and resumed or announced when the silence ends.
    return sum(
        1
        for escalation in due
        if not hold_or_release(escalation, now=now, announce=announce_firing)
        and step(escalation, now=now)
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
    gap = level_gap(target, escalation.policy)
    if gap:
        _record_level_gap(alert, target, gap, now)
        return True
    logger.info(
        "alert escalated",
        extra={"alert": alert.pk, "level": target.position, "kind": kind, "rule": alert.rule_name},
    )
    return True


def _record_level_gap(alert: Alert, level: EscalationLevel, gap: str, now: datetime) -> None:
    AlertEvent.objects.create(
        alert=alert,
        kind=AlertEvent.Kind.UNROUTED,
        actor=NOTIFICATIONS,
        at=now,
        details={"level": level.position, "reason": gap},
    )
    logger.warning(
        "escalation level reached no notification channel",
        extra={"alert": alert.pk, "level": level.position, "reason": gap},
    )


def route_unrouted(*, now: datetime) -> int:
    """Firing alerts that reached no working channel: carried now if one can; how many were."""
    pending = Alert.objects.filter(state=Alert.State.FIRING, unrouted_since__isnull=False)
    return sum(1 for pk in pending.values_list("pk", flat=True) if _carry(pk, now=now))


@transaction.atomic
def _carry(pk: int, *, now: datetime) -> bool:
    """Send an unrouted alert to the working channels it now reaches (or note a delivery)."""
    alert = (
        Alert.objects.select_for_update(of=("self",))
        .select_related("rule")
        .filter(pk=pk, state=Alert.State.FIRING, unrouted_since__isnull=False)
        .first()
    )
    if alert is None or silenced_by(alert, now) is not None:
        return False
    route = firing_route(alert)
    told = Notification.objects.filter(alert=alert, kind__in=ANNOUNCING).exclude(
        state=Notification.State.FAILED
    )
    delivered = sorted(
        told.filter(state=Notification.State.DELIVERED).values_list("channel__name", flat=True)
    )
    usable = {channel.pk for channel in working([c for c, _ in route.targets])}
    held = set(told.values_list("channel_id", flat=True))
    new = [(c, level) for c, level in route.targets if c.pk in usable and c.pk not in held]
    if not new and not delivered:
        return False
    names = sorted(channel.name for channel, _ in new) or delivered
    event = AlertEvent.objects.create(
        alert=alert,
        kind=AlertEvent.Kind.ROUTED,
        actor=NOTIFICATIONS,
        at=now,
        details={"channels": names},
    )
    if new:
        _announce(alert, route, new, event, now)
    Alert.objects.filter(pk=alert.pk).update(unrouted_since=None, unrouted_reason="")
    logger.info("unrouted alert carried", extra={"alert": alert.pk, "channels": names})
    return True


def _announce(
    alert: Alert, route: FiringRoute, new: list[Target], event: AlertEvent, now: datetime
) -> None:
    """The firing message, late, to channels that can now carry it; escalation starts now."""
    if route.levels and not AlertEscalation.objects.filter(alert=alert).exists():
        start_escalation(alert=alert, policy=route.policy, first_wait=route.levels[0].wait, now=now)
    queue(alert=alert, kind=Notification.Kind.FIRING, targets=new, now=now, event=event)
    alert.last_notified_at = now
    Alert.objects.filter(pk=alert.pk).update(last_notified_at=now)
    AlertFingerprint.objects.update_or_create(
        fingerprint=alert.fingerprint, defaults={"last_notified_at": now}
    )


def _stop(escalation: AlertEscalation, now: datetime, reason: str) -> bool:
    AlertEscalation.objects.filter(pk=escalation.pk, stopped_at__isnull=True).update(
        stopped_at=now, stopped_reason=reason, next_at=None
    )
    return False
