"""Writes of the alert lifecycle: every state change writes an AlertEvent in the same transaction.

``notify_alert_event`` is the seam the notification step fills in: it is called inside the
transaction of every event that sends a message (firing, acknowledged, resolved), after the
cooldown has been applied, so an outbox row written there commits or rolls back with the change.
The outbox registers itself there (``register_event_writer``, from ``AlertsConfig.ready()``):
the outbox reads and writes alerts through this module, so this module cannot import it.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from alerts.actors import ENGINE, UserLike, actor_name, user_row
from alerts.models import Alert, AlertEvent, AlertFingerprint, Notification, Rule
from alerts.models.alerts import fingerprint_for

logger = logging.getLogger(__name__)


class InvalidTransition(Exception):
    """The alert is not in a state that allows the change (the API answers 409)."""

    def __init__(self, message: str, *, state: str) -> None:
        super().__init__(message)
        self.message = message
        self.state = state


# Writes the rows an alert event sends: the outbox's ``write_for_event``, registered on start-up.
EventWriter = Callable[..., list[Any]]
_event_writers: list[EventWriter] = []


def register_event_writer(writer: EventWriter) -> None:
    """Make ``writer(alert=, event=)`` the notification step (the outbox, at start-up)."""
    _event_writers[:] = [writer]


def notify_alert_event(*, alert: Alert, event: AlertEvent) -> None:
    """Seam for the notification step: deliver ``event`` (same transaction as the event).

    Writes the outbox rows (alerts.notifications.outbox); a dispatcher is woken on commit.
    """
    rows = [row for writer in _event_writers for row in writer(alert=alert, event=event)]
    if rows:  # none: the outbox said why (unrouted, silenced, or no one was told before)
        logger.info(
            "alert event queued for notification",
            extra={
                "alert": alert.pk,
                "event": event.kind,
                "rule": alert.rule_name,
                "rows": len(rows),
            },
        )


def _notification_due(*, alert: Alert, kind: str, now: datetime) -> bool:
    """Whether ``kind`` sends a message; a firing within the cooldown of its fingerprint does not.

    The cooldown only spaces firing messages (across re-fires of the fingerprint); acknowledged
    and resolved messages go out whenever the firing was announced.
    """
    if kind == AlertEvent.Kind.FIRING:
        memory, _ = AlertFingerprint.objects.select_for_update().get_or_create(
            fingerprint=alert.fingerprint
        )
        cooldown = alert.rule.cooldown if alert.rule else None
        last = memory.last_notified_at
        if cooldown and last is not None and now - last < cooldown:
            return False
        mark_notified(alert=alert, now=now, memory=memory)
        return True
    if kind in (AlertEvent.Kind.ACKNOWLEDGED, AlertEvent.Kind.RESOLVED):
        return alert.last_notified_at is not None
    return False


def mark_notified(*, alert: Alert, now: datetime, memory: AlertFingerprint | None = None) -> None:
    """``alert``'s firing was announced at ``now``: its fingerprint's cooldown counts from here.

    ``memory`` is the fingerprint's row when the caller holds it locked already.
    """
    if memory is None:
        AlertFingerprint.objects.update_or_create(
            fingerprint=alert.fingerprint, defaults={"last_notified_at": now}
        )
    else:
        memory.last_notified_at = now
        memory.save(update_fields=["last_notified_at"])
    alert.last_notified_at = now
    Alert.objects.filter(pk=alert.pk).update(last_notified_at=now)


def unmark_notified(*, alert: Alert) -> None:
    """``alert``'s firing was not announced after all (silenced, or no channel carried it).

    Acknowledged and resolved messages then have no one to go to, and the cooldown counts from
    the last firing message actually sent for the fingerprint.
    """
    alert.last_notified_at = None
    Alert.objects.filter(pk=alert.pk).update(last_notified_at=None)
    last_sent = Notification.objects.filter(
        alert__fingerprint=alert.fingerprint, kind=Notification.Kind.FIRING
    ).aggregate(at=Max("created_at"))["at"]
    AlertFingerprint.objects.filter(fingerprint=alert.fingerprint).update(
        last_notified_at=last_sent
    )


def record_event(
    *,
    alert: Alert,
    kind: str,
    actor: str,
    now: datetime,
    user: UserLike = None,
    details: dict[str, Any] | None = None,
) -> AlertEvent:
    """Write one AlertEvent (inside the caller's transaction) and hand it to the notifier."""
    payload = dict(details or {})
    notify = _notification_due(alert=alert, kind=kind, now=now)
    if kind in AlertEvent.NOTIFYING:
        payload["notify"] = notify
        if not notify and kind == AlertEvent.Kind.FIRING:
            payload["suppressed"] = "cooldown"
    event = AlertEvent.objects.create(
        alert=alert, kind=kind, actor=actor, user=user_row(user), at=now, details=payload
    )
    if notify:
        notify_alert_event(alert=alert, event=event)
    return event


@transaction.atomic
def open_alert(
    *,
    rule: Rule,
    source: str,
    labels: dict[str, str],
    value: float | None,
    now: datetime,
    actor: str = ENGINE,
    identity: dict[str, str] | None = None,
    details: dict[str, Any] | None = None,
    overrides: dict[str, Any] | None = None,
) -> Alert | None:
    """Open an alert (pending, or firing at once when the rule's ``for`` is zero).

    ``identity`` (default: ``labels``) is what the fingerprint hashes. ``overrides`` sets alert
    fields the rule does not decide (an anomaly's detector, name, severity and words) before the
    first event. Returns None when an open alert of the fingerprint already exists (the database
    constraint decides under races).
    """
    fingerprint = fingerprint_for(
        source, str(rule.pk), identity if identity is not None else labels
    )
    alert = Alert(
        source=source,
        rule=rule,
        fingerprint=fingerprint,
        labels=labels,
        state=Alert.State.PENDING,
        severity=rule.severity,
        rule_name=rule.name,
        expression=rule.expression,
        rule_version=rule.version,
        operator=rule.operator,
        threshold=None if rule.builtin else rule.threshold,
        value=value,
        summary=rule.render("summary", value=value, labels=labels),
        description=rule.render("description", value=value, labels=labels),
        details=details or {},
        started_at=now,
        last_evaluated_at=now,
    )
    for name, field_value in (overrides or {}).items():
        setattr(alert, name, field_value)
    try:
        with transaction.atomic():
            alert.save()
    except IntegrityError:
        logger.info("alert already open", extra={"rule": rule.slug, "fingerprint": fingerprint})
        return None
    record_event(
        alert=alert, kind=AlertEvent.Kind.PENDING, actor=actor, now=now, details={"value": value}
    )
    if not rule.for_seconds:
        fire_alert(alert=alert, now=now, actor=actor)
    return alert


@transaction.atomic
def fire_alert(*, alert: Alert, now: datetime, actor: str = ENGINE) -> None:
    """pending -> firing."""
    alert.state = Alert.State.FIRING
    alert.fired_at = now
    alert.condition_false_since = None
    alert.save(update_fields=["state", "fired_at", "condition_false_since"])
    record_event(
        alert=alert,
        kind=AlertEvent.Kind.FIRING,
        actor=actor,
        now=now,
        details={"value": alert.value},
    )


def _locked(alert: Alert | int) -> Alert:
    pk = alert.pk if isinstance(alert, Alert) else alert
    return Alert.objects.select_for_update(of=("self",)).select_related("rule").get(pk=pk)


@transaction.atomic
def acknowledge_alert(
    *,
    alert: Alert | int,
    user: UserLike,
    actor: str | None = None,
    now: datetime | None = None,
) -> Alert:
    """firing -> acknowledged (someone owns it). Anything else raises InvalidTransition."""
    now = now or timezone.now()
    row = _locked(alert)
    if not row.can_acknowledge():
        raise InvalidTransition(
            f"Only a firing alert can be acknowledged; this one is {row.state}.", state=row.state
        )
    name = actor or getattr(user, "username", "") or "unknown"
    row.state = Alert.State.ACKNOWLEDGED
    row.acknowledged_at = now
    row.acknowledged_by = user_row(user)
    row.acknowledged_by_name = name[:200]
    row.save(update_fields=["state", "acknowledged_at", "acknowledged_by", "acknowledged_by_name"])
    record_event(
        alert=row, kind=AlertEvent.Kind.ACKNOWLEDGED, actor=name, now=now, user=row.acknowledged_by
    )
    return row


@transaction.atomic
def resolve_alert(
    *,
    alert: Alert | int,
    user: UserLike = None,
    actor: str | None = None,
    now: datetime | None = None,
    reason: str = "manual",
) -> Alert:
    """Close an open alert by hand (or by the engine); a resolved one raises InvalidTransition."""
    now = now or timezone.now()
    row = _locked(alert)
    if not row.can_resolve():
        raise InvalidTransition("This alert is already resolved.", state=row.state)
    name = actor or actor_name(user, default=ENGINE)
    stored = user if user is not None and user.is_authenticated and user.pk else None
    _close(row, now=now, actor=name, user=stored, reason=reason)
    return row


def _close(
    alert: Alert,
    *,
    now: datetime,
    actor: str,
    reason: str,
    user: UserLike = None,
    details: dict[str, Any] | None = None,
    value: float | None = None,
) -> None:
    fired_at = alert.fired_at if alert.state in Alert.ACTIVE_STATES else None
    alert.state = Alert.State.RESOLVED
    alert.resolved_at = now
    alert.resolved_by_name = actor[:200]
    # What the resolved message says happened: the value that resolved it, how long it fired.
    alert.resolved_value = value if value is None or math.isfinite(value) else None
    alert.fired_seconds = (now - fired_at).total_seconds() if fired_at else None
    alert.save(
        update_fields=[
            "state",
            "resolved_at",
            "resolved_by_name",
            "resolved_value",
            "fired_seconds",
        ]
    )
    record_event(
        alert=alert,
        kind=AlertEvent.Kind.RESOLVED,
        actor=actor,
        now=now,
        user=user,
        details={"reason": reason, **(details or {})},
    )


@transaction.atomic
def close_alert(
    *,
    alert: Alert,
    now: datetime,
    actor: str = ENGINE,
    reason: str,
    details: dict | None = None,
    value: float | None = None,
) -> None:
    """Resolve an alert the caller already holds in its transaction (engine and health).

    ``value`` is what the condition measured when it stopped holding (None: no data, or a
    resolution that measured nothing); the resolved message shows it.
    """
    _close(alert, now=now, actor=actor, reason=reason, details=details, value=value)


@transaction.atomic
def resolve_rule_alerts(
    *, rule: Rule, actor: str, now: datetime | None = None, reason: str = "rule disabled"
) -> int:
    """Resolve every open alert of ``rule`` (it was disabled or is being deleted)."""
    now = now or timezone.now()
    rows = list(
        Alert.objects.select_for_update(of=("self",))
        .select_related("rule")
        .filter(rule=rule, state__in=Alert.OPEN_STATES)
    )
    for row in rows:
        _close(row, now=now, actor=actor, reason=reason)
    return len(rows)
