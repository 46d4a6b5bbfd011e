"""Silences and maintenance windows: which mute an alert now, and how muting meets the outbox.

A silenced alert runs its lifecycle as usual (events are recorded); what changes is delivery:

- its firing is not announced; the event records ``"suppressed": "silence:<id>"`` (or
  ``"maintenance_window:<id>"``). If it is still firing when the silence ends, the escalation job
  announces it then (rule channels and level 1), as Alertmanager notifies an alert that outlives
  its silence;
- escalation does not advance while it is silenced: a due step is held until the silence ends,
  and the level's wait then starts again;
- acknowledged and resolved messages still go to the channels that were told about it.

A held escalation keeps ``stopped_at`` empty and says why in ``stopped_reason`` ("held by ...");
a firing that was never announced is an escalation row at level 0.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from alerts.actors import SILENCES, SYSTEM, UserLike, actor_name, user_row
from alerts.models import (
    Alert,
    AlertEscalation,
    AlertEvent,
    MaintenanceWindow,
    Notification,
    Silence,
)
from alerts.models.silences import NO_END, LabelValue
from alerts.services import mark_notified, unmark_notified
from health.models import Service

logger = logging.getLogger(__name__)

Muting = Silence | MaintenanceWindow
_M = TypeVar("_M", Silence, MaintenanceWindow)
HELD = "held by "
# Queues a firing's messages: the outbox's announce_firing, handed in by escalation.
Announce = Callable[..., list[Notification]]
DEFERRED_LEVEL = 0  # an escalation row whose firing was never announced


class AlreadyExpired(Exception):
    """The silence or window has already ended (the API answers 409)."""


# --- selectors --------------------------------------------------------------------------------


def active_silences(now: datetime) -> list[Muting]:
    """Silences and maintenance windows in force at ``now`` (two queries; a recurring window
    counts only inside one of its occurrences)."""
    silences = Silence.objects.filter(starts_at__lte=now, ends_at__gt=now).order_by("pk")
    windows = MaintenanceWindow.objects.filter(starts_at__lte=now, ends_at__gt=now).order_by("pk")
    return [*silences, *(window for window in windows if window.is_active(now))]


def alert_labels(alert: Alert) -> dict[str, LabelValue]:
    """The labels silences match: the alert's own plus alertname, severity and source."""
    labels: dict[str, LabelValue] = {str(k): str(v) for k, v in (alert.labels or {}).items()}
    service = (alert.details or {}).get("service")
    if "service" not in labels and alert.source == Alert.Source.HEALTH and service:
        labels["service"] = str(service)
    slug = getattr(alert.rule, "slug", "") or ""  # a deleted rule leaves only its name
    labels["alertname"] = tuple(dict.fromkeys(name for name in (alert.rule_name, slug) if name))
    labels["severity"] = alert.severity
    labels["source"] = alert.source
    return labels


def silenced_by(
    alert: Alert, now: datetime, *, active: Sequence[Muting] | None = None
) -> Muting | None:
    """The silence or window muting ``alert`` at ``now`` (the one ending last), or None."""
    candidates = active_silences(now) if active is None else active
    if not candidates:
        return None
    labels = alert_labels(alert)
    matching = [muting for muting in candidates if muting.matches(labels)]
    return max(matching, key=lambda muting: (muting.active_until(now), muting.pk), default=None)


# --- services ---------------------------------------------------------------------------------


@transaction.atomic
def create_silence(
    *,
    matchers: Any,
    starts_at: datetime | None,
    ends_at: datetime | None,
    comment: str,
    user: UserLike,
    now: datetime | None = None,
) -> Silence:
    """A checked silence; a start in the past (or none) is now. Raises ValidationError."""
    now = now or timezone.now()
    starts_at, ends_at = check_times(starts_at=starts_at, ends_at=ends_at, now=now)
    silence = Silence(
        matchers=matchers,
        starts_at=starts_at,
        ends_at=ends_at,
        comment=(comment or "").strip(),
        created_by=user_row(user),
        created_at=now,
    )
    silence.full_clean(exclude=["created_by", "expired_by"])
    silence.save()
    logger.info(
        "silence created", extra={"silence": silence.pk, "by": actor_name(user, default=SYSTEM)}
    )
    return silence


@transaction.atomic
def create_maintenance_window(
    *,
    name: str,
    services: Any,
    starts_at: datetime | None,
    ends_at: datetime | None,
    comment: str,
    user: UserLike,
    now: datetime | None = None,
    recurrence: str = "",
    duration_seconds: int | None = None,
    time_zone: str = "UTC",
) -> MaintenanceWindow:
    """A checked maintenance window over known service slugs, one-off or recurring (every
    ``recurrence`` on ``time_zone``'s clock for ``duration_seconds``, until ``ends_at`` or
    expired). Raises ValidationError."""
    now = now or timezone.now()
    recurring = bool((recurrence or "").strip())
    if recurring and ends_at is None:
        ends_at = NO_END
    starts_at, ends_at = check_times(starts_at=starts_at, ends_at=ends_at, now=now)
    window = MaintenanceWindow(
        name=(name or "").strip(),
        services=services,
        starts_at=starts_at,
        ends_at=ends_at,
        comment=(comment or "").strip(),
        created_by=user_row(user),
        created_at=now,
        recurrence=(recurrence or "").strip(),
        duration_seconds=duration_seconds,
        time_zone=(time_zone or "UTC").strip(),
    )
    window.full_clean(exclude=["created_by", "expired_by"])
    check_services_exist(window.services)
    window.save()
    logger.info(
        "maintenance window created",
        extra={"window": window.pk, "by": actor_name(user, default=SYSTEM)},
    )
    return window


def check_times(
    *, starts_at: datetime | None, ends_at: datetime | None, now: datetime
) -> tuple[datetime, datetime]:
    """The start and end of a new silence or window (a start in the past, or none, is now)."""
    if ends_at is None:
        raise ValidationError({"ends_at": ["This field is required."]})
    if ends_at <= now:
        raise ValidationError({"ends_at": ["Must be in the future."]})
    return max(starts_at or now, now), ends_at


def check_services_exist(slugs: list[str]) -> None:
    """ValidationError naming ``services`` when a slug is not a registered service."""

    known = set(Service.objects.filter(slug__in=slugs).values_list("slug", flat=True))
    unknown = sorted(set(slugs) - known)
    if unknown:
        raise ValidationError({"services": [f"Unknown service(s): {', '.join(unknown)}."]})


def expire_silence(*, silence: Silence, user: UserLike, now: datetime | None = None) -> Silence:
    """End a silence now (a pending one never starts); held escalations resume at once."""
    return _expire(silence, user=user, now=now or timezone.now())


def expire_maintenance_window(
    *, window: MaintenanceWindow, user: UserLike, now: datetime | None = None
) -> MaintenanceWindow:
    """End a maintenance window now; held escalations resume at once."""
    return _expire(window, user=user, now=now or timezone.now())


@transaction.atomic
def _expire(muting: _M, *, user: UserLike, now: datetime) -> _M:
    row = type(muting).objects.select_for_update().get(pk=muting.pk)
    if row.ends_at <= now:
        raise AlreadyExpired(f"It already ended at {row.ends_at.isoformat()}.")
    row.starts_at = min(row.starts_at, now)
    row.ends_at = now
    row.expired_at = now
    row.expired_by = user_row(user)
    # simple_history (no type stubs) reads this attribute when it writes the history row.
    row._change_reason = f"expired by {actor_name(user, default=SYSTEM)}"  # type: ignore[attr-defined]
    row.save()
    release_held(row, now=now)
    logger.info(
        "silence expired",
        extra={"silence": row.suppression_key(), "by": actor_name(user, default=SYSTEM)},
    )
    return row


@transaction.atomic
def update_muting(*, row: Muting, user: UserLike, now: datetime | None = None) -> Muting:
    """Store an edit of a silence or window (its end, comment, ...); an earlier end releases
    the escalations held until the planned one."""
    row._history_user = user_row(user)  # type: ignore[union-attr]
    row.save()
    release_held(row, now=now or timezone.now())
    return row


def release_held(muting: Muting, *, now: datetime) -> int:
    """Escalations held until a later end are due at the (new) end: the job re-checks them."""
    return AlertEscalation.objects.filter(
        stopped_at__isnull=True, stopped_reason=_held_reason(muting), next_at__gt=muting.ends_at
    ).update(next_at=max(muting.ends_at, now))


# --- the outbox and escalation call these -------------------------------------------------------


def _held_reason(muting: Muting) -> str:
    return f"{HELD}{muting.suppression_key()}"[:50]


def suppress_firing(*, alert: Alert, event: AlertEvent, muting: Muting) -> list[Notification]:
    """A firing under a silence: recorded as suppressed, announced when the silence ends."""
    key = muting.suppression_key()
    event.details = {**(event.details or {}), "notify": False, "suppressed": key}
    event.save(update_fields=["details"])
    unmark_notified(alert=alert)  # nothing was sent
    AlertEscalation.objects.update_or_create(
        alert=alert,
        defaults={
            "policy": None,
            "level": DEFERRED_LEVEL,
            "level_notified_at": event.at,
            "next_at": muting.active_until(event.at),
            "reminders_sent": 0,
            "stopped_at": None,
            "stopped_reason": _held_reason(muting),
        },
    )
    logger.info("alert firing silenced", extra={"alert": alert.pk, "silence": key})
    return []


def hold_or_release(escalation: AlertEscalation, *, now: datetime, announce: Announce) -> bool:
    """For a due escalation step: True when silences handled it (held, resumed or announced).

    ``announce(alert=, event=)`` queues a firing's messages (the outbox's, handed in by escalation
    so that silences need not import the outbox, which imports silences).
    """
    alert = Alert.objects.select_related("rule").get(pk=escalation.alert_id)
    muting = silenced_by(alert, now)
    if muting is not None:
        _hold(escalation, muting, now)
        return True
    if escalation.level == DEFERRED_LEVEL:
        _announce(escalation, alert, now, announce)
        return True
    if escalation.stopped_reason.startswith(HELD):
        _resume(escalation, now)
        return True
    return False


def _claim(escalation: AlertEscalation, **changes: Any) -> bool:
    """A conditional UPDATE: only one of several escalation jobs takes the step."""
    return bool(
        AlertEscalation.objects.filter(
            pk=escalation.pk,
            level=escalation.level,
            next_at=escalation.next_at,
            stopped_at__isnull=True,
        ).update(**changes)
    )


def _hold(escalation: AlertEscalation, muting: Muting, now: datetime) -> None:
    _claim(escalation, next_at=muting.active_until(now), stopped_reason=_held_reason(muting))


def _resume(escalation: AlertEscalation, now: datetime) -> None:
    """The silence ended: the current level's wait starts again from now."""
    levels = escalation.policy.ordered_levels() if escalation.policy else []
    current = next((level for level in levels if level.position == escalation.level), None)
    wait = current.wait if current is not None else None
    _claim(escalation, next_at=now + wait if wait else now, stopped_reason="")


@transaction.atomic
def _announce(escalation: AlertEscalation, alert: Alert, now: datetime, announce: Announce) -> None:
    """The silence ended and the alert still fires: announce it now, and start escalating."""
    done = "announced after silence"
    if not _claim(escalation, stopped_at=now, stopped_reason=done, next_at=None):
        return
    event = AlertEvent.objects.create(
        alert=alert,
        kind=AlertEvent.Kind.UPDATED,
        actor=SILENCES,
        at=now,
        details={"reason": "silence ended while firing", "notify": True},
    )
    mark_notified(alert=alert, now=now)
    rows = announce(alert=alert, event=event)
    logger.info("silenced alert announced", extra={"alert": alert.pk, "rows": len(rows)})
