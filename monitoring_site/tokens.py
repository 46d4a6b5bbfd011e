"""API tokens that end when they should: on a password change, on sign-out everywhere, and at
a fixed time after sign-in however often they are refreshed.

Every token carries ``generation`` (the user's :class:`TokenRevocation` counter when the sign-in
happened) and ``auth_time`` (the sign-in, as epoch seconds). A token whose generation is not the
user's current one is refused; a refresh keeps ``auth_time``, so the chain of refresh tokens ends
``JWT_REFRESH_DAYS`` after the sign-in (rotating no longer slides the end forward).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import logout
from django.contrib.auth.hashers import is_password_usable
from django.contrib.auth.signals import user_logged_in
from django.db.models.signals import post_save, pre_save
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from rest_framework_simplejwt.exceptions import AuthenticationFailed, InvalidToken, TokenError
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken, Token
from rest_framework_simplejwt.utils import datetime_from_epoch, datetime_to_epoch

from monitoring_site.models import TokenRevocation
from monitoring_site.services import revoke_tokens

logger = logging.getLogger(__name__)

GENERATION_CLAIM = "generation"
AUTH_TIME_CLAIM = "auth_time"
SIGNED_IN_SESSION_KEY = "monitoring_signed_in_at"


class TokenRevoked(AuthenticationFailed):
    """A 401: the token predates a password change or a sign-out everywhere."""

    default_detail = (
        "This token was revoked (password change or sign-out everywhere): sign in again."
    )
    default_code = "token_revoked"


def current_generation(user_id: Any) -> int:
    found = TokenRevocation.objects.filter(user_id=user_id).values_list("generation", flat=True)
    return found.first() or 0


def check_not_revoked(token: Token, user: Any) -> None:
    """Raise :class:`TokenRevoked` unless ``token`` was issued in the user's current generation.

    Tokens issued before this check existed carry no generation: they count as generation 0.
    """
    if int(token.get(GENERATION_CLAIM, 0)) != current_generation(user.pk):
        raise TokenRevoked()


def _refresh_lifetime() -> timedelta:
    lifetime = settings.SIMPLE_JWT["REFRESH_TOKEN_LIFETIME"]
    assert isinstance(lifetime, timedelta), "SIMPLE_JWT REFRESH_TOKEN_LIFETIME is a timedelta"
    return lifetime


def chain_end(refresh: RefreshToken) -> datetime:
    """When the sign-in behind ``refresh`` stops being refreshable."""
    signed_in = refresh.get(AUTH_TIME_CLAIM, refresh["iat"])
    return datetime_from_epoch(signed_in) + _refresh_lifetime()


def issue_pair(user: Any) -> tuple[RefreshToken, AccessToken]:
    """A fresh sign-in: a refresh token (recorded as outstanding) and its access token."""
    refresh = RefreshToken()
    refresh[AUTH_TIME_CLAIM] = refresh["iat"]
    _bind(refresh, user)
    return refresh, _access_for(refresh)


def rotate(refresh: RefreshToken, user: Any) -> tuple[RefreshToken, AccessToken]:
    """The next pair of a refresh chain: same sign-in time, same end, new id."""
    check_not_revoked(refresh, user)
    end = chain_end(refresh)
    refresh[AUTH_TIME_CLAIM] = datetime_to_epoch(end - _refresh_lifetime())
    refresh.set_jti()
    refresh.set_iat()
    refresh["exp"] = datetime_to_epoch(end)
    _bind(refresh, user)
    return refresh, _access_for(refresh)


def _bind(refresh: RefreshToken, user: Any) -> None:

    refresh["user_id"] = str(user.pk)
    refresh[GENERATION_CLAIM] = current_generation(user.pk)
    OutstandingToken.objects.create(
        user=user,
        jti=refresh["jti"],
        token=str(refresh),
        created_at=refresh.current_time,
        expires_at=datetime_from_epoch(refresh["exp"]),
    )


def _access_for(refresh: RefreshToken) -> AccessToken:
    """The access token never outlives the refresh chain it came from."""
    access = refresh.access_token
    access["exp"] = min(access["exp"], refresh["exp"])
    return access


def refresh_token_from(raw: str) -> RefreshToken:
    """Decode and verify (signature, expiry, blacklist); a bad token becomes a 401."""

    try:
        return RefreshToken(raw)  # type: ignore[arg-type]
    except TokenError as exc:
        raise InvalidToken(exc.args[0]) from exc


# --- what ends tokens and sessions --------------------------------------------------------------


@receiver(pre_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="monitoring_site.tokens.pw")
def _notice_password_change(
    sender: Any, instance: Any, update_fields: Any = None, **_: Any
) -> None:
    """Mark a saved user whose password changed, by whatever door (admin, command, code).

    A hash upgrade at sign-in (Django re-hashes with more iterations, saving only the password
    and without a raw password) is not a change.
    """
    if instance.pk is None or (update_fields is not None and "password" not in update_fields):
        return
    if instance._password is not None:
        instance._monitoring_password_changed = True
        return
    old = sender._default_manager.filter(pk=instance.pk).values_list("password", flat=True).first()
    if old is None or old == instance.password:
        return
    upgrade = set(update_fields or ()) == {"password"} and is_password_usable(instance.password)
    if not (upgrade and is_password_usable(old)):
        instance._monitoring_password_changed = True


@receiver(post_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="monitoring_site.tokens.rev")
def _revoke_after_password_change(sender: Any, instance: Any, **_: Any) -> None:
    if instance.__dict__.pop("_monitoring_password_changed", False):
        revoke_tokens(user=instance, reason="password changed")


@receiver(user_logged_in, dispatch_uid="monitoring_site.tokens.signed_in")
def _stamp_session(sender: Any, request: Any, user: Any, **_: Any) -> None:
    session = getattr(request, "session", None)
    if session is not None:
        session[SIGNED_IN_SESSION_KEY] = timezone.now().timestamp()


class SignedOutSessionMiddleware:
    """Ends a browser session that began before its user was signed out everywhere."""

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and _signed_out_since_sign_in(request):
            logger.info("session ended: signed out everywhere", extra={"user_id": user.pk})
            logout(request)
        return self.get_response(request)


def _signed_out_since_sign_in(request: HttpRequest) -> bool:
    if request.user.pk is None:
        return False
    signed_out = (
        TokenRevocation.objects.filter(user_id=request.user.pk)
        .values_list("signed_out_at", flat=True)
        .first()
    )
    if signed_out is None:
        return False
    # Sessions from before this middleware existed carry no stamp: they end too.
    signed_in = request.session.get(SIGNED_IN_SESSION_KEY, 0.0)
    return signed_in < signed_out.timestamp()
