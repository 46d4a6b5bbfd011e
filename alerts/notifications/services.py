"""Writes of notification channels: the admin (their only door) and bootstrap use these."""

from __future__ import annotations

import logging

from django.db import transaction

from alerts.actors import UserLike, user_row
from alerts.models import NotificationChannel

logger = logging.getLogger(__name__)


@transaction.atomic
def save_channel(
    *, channel: NotificationChannel, user: UserLike, reason: str = ""
) -> NotificationChannel:
    """Store a validated channel (new or edited); its history keeps the secrets masked."""
    channel._history_user = user_row(user)  # type: ignore[attr-defined]
    if reason:
        channel._change_reason = reason  # type: ignore[attr-defined]
    channel.save()
    logger.info("channel saved", extra={"channel": channel.pk, "kind": channel.kind})
    return channel


@transaction.atomic
def disable_channel(*, channel: NotificationChannel, user: UserLike, reason: str) -> bool:
    """Disable an enabled channel and say why; False when it was disabled already."""
    row = NotificationChannel.objects.select_for_update().get(pk=channel.pk)
    if not row.enabled:
        return False
    row.enabled = False
    row.disabled_reason = reason[:300]
    save_channel(channel=row, user=user, reason=reason[:100])
    return True
