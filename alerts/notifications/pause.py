"""A vendor's rate limit holds for the whole channel, not message by message.

When Slack answers 429 with ``Retry-After: 30`` it means "this webhook, 30 seconds", whatever
message comes next. A 429 or 503 carrying ``Retry-After`` therefore pauses the channel: its
``paused_until`` is set (never shortened, capped at NOTIFY_PAUSE_MAX_SECONDS), the channel's
queued messages are moved to that time, and a dispatcher that claims one of its messages before
then puts it back without sending it or counting an attempt. The pause shows on the channel in
the admin (list and change page).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q

from alerts.channels import ChannelError
from alerts.models import Notification, NotificationChannel

logger = logging.getLogger(__name__)

PAUSING_STATUSES = (429, 503)


def pause_for(error: ChannelError) -> float | None:
    """Seconds the vendor asked the whole channel to wait, or None (not a pausing answer)."""
    if error.permanent or error.status not in PAUSING_STATUSES or error.retry_after is None:
        return None
    return min(error.retry_after, settings.NOTIFY_PAUSE_MAX_SECONDS)


def pause_channel(
    *, channel: NotificationChannel, error: ChannelError, now: datetime
) -> datetime | None:
    """Pause ``channel`` as ``error`` asks (if it does); the end of the pause, or None."""
    seconds = pause_for(error)
    if seconds is None or seconds <= 0:
        return None
    until = now + timedelta(seconds=seconds)
    reason = f"{error.status} with Retry-After {seconds:g} s at {now:%H:%M:%S} UTC"
    # A later pause wins; a shorter one never cuts a longer one short.
    NotificationChannel.objects.filter(
        Q(paused_until__isnull=True) | Q(paused_until__lt=until), pk=channel.pk
    ).update(paused_until=until, pause_reason=reason[:300])
    # The channel's queued messages wait too: the outbox shows when they will go, and no
    # dispatcher claims them just to put them back.
    Notification.objects.filter(
        channel_id=channel.pk, state=Notification.State.QUEUED, due_at__lt=until
    ).update(due_at=until)
    logger.warning(
        "notification channel paused by its vendor",
        extra={"channel": channel.name, "until": until.isoformat(), "status": error.status},
    )
    return until


def hold_while_paused(*, row: Notification, channel: NotificationChannel, now: datetime) -> bool:
    """Put a claimed row of a paused channel back until the pause ends; True when it was."""
    if not channel.is_paused(now):
        return False
    assert channel.paused_until is not None  # is_paused says so; for mypy
    Notification.objects.filter(pk=row.pk, claim=row.claim).update(
        state=Notification.State.QUEUED,
        due_at=max(channel.paused_until, row.due_at),
        lease_until=None,
    )
    return True


def resume_channel(*, channel: NotificationChannel) -> bool:
    """Lift a pause before its end (an operator knows better); True when there was one."""
    lifted = NotificationChannel.objects.filter(pk=channel.pk, paused_until__isnull=False).update(
        paused_until=None, pause_reason=""
    )
    return bool(lifted)
