"""Intake tokens: issued once, stored as a SHA-256 hash, revocable (every door calls these)."""

from __future__ import annotations

import hashlib
import logging
import secrets
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from alerts.models import IntakeToken

logger = logging.getLogger(__name__)

TOKEN_PREFIX = "itk_"  # noqa: S105 (the public prefix, not a secret)
_PUBLIC_CHARS = 8
LAST_USED_RESOLUTION = timedelta(minutes=1)


def hash_token(raw: str) -> str:
    # 256-bit random tokens: a fast hash is enough, there is nothing to guess.
    return hashlib.sha256(raw.encode()).hexdigest()


def looks_like_intake_token(raw: str) -> bool:
    return raw.startswith(TOKEN_PREFIX)


@transaction.atomic
def create_intake_token(*, name: str, created_by: Any = None) -> tuple[IntakeToken, str]:
    """A new token row and the token itself, which is shown once and never stored."""
    public = secrets.token_hex(_PUBLIC_CHARS // 2)
    raw = f"{TOKEN_PREFIX}{public}_{secrets.token_urlsafe(32)}"
    token = IntakeToken.objects.create(
        name=name, prefix=f"{TOKEN_PREFIX}{public}", key_hash=hash_token(raw), created_by=created_by
    )
    logger.info("intake token created", extra={"token_prefix": token.prefix, "token_name": name})
    return token, raw


@transaction.atomic
def rename_intake_token(*, token: IntakeToken, name: str) -> IntakeToken:
    """Rename a token (never its secret)."""
    token.name = name
    token.save(update_fields=["name"])
    return token


def revoke_intake_token(*, token: IntakeToken, now: datetime | None = None) -> bool:
    """Revoke a token; False when it already was."""
    changed = IntakeToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
        revoked_at=now or timezone.now()
    )
    if changed:
        logger.info("intake token revoked", extra={"token_prefix": token.prefix})
    return bool(changed)


def find_intake_token(raw: str) -> IntakeToken | None:
    """The active token matching ``raw``; records its use at most once a minute."""
    token = IntakeToken.objects.filter(key_hash=hash_token(raw)).first()
    if token is None or not token.is_active():
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
        IntakeToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token
