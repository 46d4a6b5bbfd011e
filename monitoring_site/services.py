"""Writes of the foundation: ending a user's tokens and sessions, lifting a sign-in lockout."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import F, QuerySet
from django.utils import timezone
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from monitoring_site.models import TokenRevocation
from monitoring_site.roles import Role, has_role

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Revoked:
    """What a revocation did: the new generation, when, and how many refresh tokens it listed."""

    generation: int
    at: datetime
    refresh_tokens_blacklisted: int


@transaction.atomic
def revoke_tokens(*, user: Any, reason: str, end_sessions: bool = False) -> Revoked:
    """End every API token of ``user`` issued so far (and their browser sessions if asked)."""
    now = timezone.now()
    TokenRevocation.objects.get_or_create(user=user)
    changes: dict[str, Any] = {"generation": F("generation") + 1, "revoked_at": now}
    if end_sessions:
        changes["signed_out_at"] = now
    TokenRevocation.objects.filter(user=user).update(reason=reason[:200], **changes)
    generation = TokenRevocation.objects.values_list("generation", flat=True).get(user=user)
    blacklisted = _blacklist_outstanding(user, now)
    logger.info(
        "tokens revoked: %s",
        reason,
        extra={"user_id": user.pk, "generation": generation, "blacklisted": blacklisted},
    )
    return Revoked(generation=generation, at=now, refresh_tokens_blacklisted=blacklisted)


def _blacklist_outstanding(user: Any, now: datetime) -> int:
    """List the user's unexpired refresh tokens as blacklisted (visible in the admin)."""
    outstanding = OutstandingToken.objects.filter(
        user=user, expires_at__gt=now, blacklistedtoken__isnull=True
    )
    rows = [BlacklistedToken(token=token) for token in outstanding.only("id")]
    BlacklistedToken.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


def sign_out_everywhere(*, user: Any, actor: Any) -> Revoked:
    """``actor`` ends every token and browser session of ``user``: their own, or as an admin."""
    if actor.pk != user.pk and not has_role(actor, Role.ADMIN):
        raise PermissionDenied("Only the admin role may sign another user out.")
    who = "the user" if actor.pk == user.pk else actor.get_username()
    return revoke_tokens(user=user, reason=f"signed out everywhere by {who}", end_sessions=True)


@transaction.atomic
def lift_lockouts(*, attempts: QuerySet[Any], actor: Any) -> int:
    """Delete the sign-in attempt records behind lockouts, so those pairs may sign in again."""
    lifted = [(attempt.username, attempt.ip_address) for attempt in attempts]
    count = len(lifted)
    attempts.delete()
    for username, address in lifted:
        logger.warning(
            "sign-in lockout lifted",
            extra={"username": username, "address": address, "by": actor.get_username()},
        )
    return count
