"""An attempt is recorded as started before the send and closed after it.

A dispatcher killed mid-send (a deploy, the OOM killer) leaves its attempt ``in_flight`` and the
row ``sending`` under a lease; once the lease expires the next dispatcher claims the row, marks
the dead attempt ``interrupted`` (the message may or may not have reached the vendor) and starts
a second attempt of the same notification, with the same idempotency key. The outbox then shows
the resend for what it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import connection, transaction
from django.db.models import F
from django.db.models.signals import post_save

from alerts.models import Notification, NotificationAttempt
from alerts.notifications import postgres

Outcome = NotificationAttempt.Outcome
INTERRUPTED_ERROR = (
    "the dispatcher stopped before recording the outcome (killed or crashed mid-send); "
    "the message may have been delivered, and was sent again with the same idempotency key"
)


@dataclass(frozen=True)
class Started:
    """The in-flight attempt row of one send."""

    pk: int
    at: datetime


def start(*, row: Notification, now: datetime) -> Started | None:
    """Count an attempt of ``row`` and record it in flight; None when the claim is no longer ours.

    Attempts left in flight by a dispatcher that died are closed as interrupted first.
    """
    if connection.vendor == "postgresql":
        pk = postgres.start_attempt(row=row, now=now, interrupted_error=INTERRUPTED_ERROR)
    else:
        pk = _start_orm(row=row, now=now)
    if pk is None:
        return None
    row.attempts += 1
    return Started(pk=pk, at=now)


@transaction.atomic
def _start_orm(*, row: Notification, now: datetime) -> int | None:
    bumped = Notification.objects.filter(pk=row.pk, claim=row.claim).update(
        attempts=F("attempts") + 1
    )
    if not bumped:
        return None
    NotificationAttempt.objects.filter(notification_id=row.pk, outcome=Outcome.IN_FLIGHT).update(
        outcome=Outcome.INTERRUPTED, error=INTERRUPTED_ERROR
    )
    # bulk_create: post_save listeners (log shipping, tracing) hear of the attempt once, closed.
    [attempt] = NotificationAttempt.objects.bulk_create(
        [
            NotificationAttempt(
                notification_id=row.pk, channel_id=row.channel_id, at=now, outcome=Outcome.IN_FLIGHT
            )
        ]
    )
    return attempt.pk


def announce(
    started: Started,
    *,
    row: Notification,
    outcome: str,
    status: int | None,
    duration_ms: float,
) -> None:
    """Tell post_save listeners (log shipping, tracing; issue #14) of the closed attempt."""
    attempt = NotificationAttempt(
        pk=started.pk,
        notification=row,
        channel=row.channel,
        at=started.at,
        outcome=outcome,
        status=status,
        duration_ms=duration_ms,
    )
    post_save.send(
        NotificationAttempt,
        instance=attempt,
        created=True,
        raw=False,
        using="default",
        update_fields=None,
    )
