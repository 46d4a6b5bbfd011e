"""The API's sign-in: obtain a token pair (locked out after repeated failures), refresh it
(rotating, within the sign-in's absolute lifetime) and sign out everywhere."""

from __future__ import annotations

from typing import Any

from axes.handlers.proxy import AxesProxyHandler
from django.contrib.auth import get_user_model
from django.contrib.auth.models import update_last_login
from django.db import transaction
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, generics, serializers, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework_simplejwt.exceptions import InvalidToken
from rest_framework_simplejwt.serializers import (
    TokenObtainPairSerializer,
    TokenObtainSerializer,
    TokenRefreshSerializer,
)
from rest_framework_simplejwt.tokens import Token
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView

from monitoring_site.api.throttling import LoginThrottle
from monitoring_site.lockout import cool_off_seconds, lockout_message
from monitoring_site.services import sign_out_everywhere
from monitoring_site.tokens import check_not_revoked, issue_pair, refresh_token_from, rotate


class SignInLockedOut(exceptions.APIException):
    """429: this username failed too often from this address (django-axes, in the database)."""

    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    default_code = "locked_out"

    def __init__(self, request: Any) -> None:
        super().__init__(lockout_message(request))
        self.wait = cool_off_seconds(request)  # DRF turns it into Retry-After


class ObtainSerializer(TokenObtainPairSerializer):
    def validate(self, attrs: dict[str, Any]) -> dict[str, str]:
        request = self.context["request"]
        try:
            TokenObtainSerializer.validate(self, attrs)  # authenticates, through django-axes
        except exceptions.AuthenticationFailed:
            if getattr(request, "axes_locked_out", False):
                raise SignInLockedOut(request) from None
            raise
        # A success clears this pair's failures, as it does on the sign-in pages.
        AxesProxyHandler.get_implementation().reset_user_attempts(
            request, {"username": attrs.get("username")}
        )
        refresh, access = issue_pair(self.user)
        update_last_login(None, self.user)  # type: ignore[arg-type]
        return {"refresh": str(refresh), "access": str(access)}


class RefreshSerializer(TokenRefreshSerializer):
    def validate(self, attrs: dict[str, Any]) -> dict[str, str]:
        with transaction.atomic():
            refresh = refresh_token_from(attrs["refresh"])
            user = _active_user(refresh)
            check_not_revoked(refresh, user)
            first_use: bool = refresh.blacklist()[1]  # type: ignore[index]
            if not first_use:  # a concurrent refresh of the same token got there first
                raise InvalidToken("Token is blacklisted")
            refresh, access = rotate(refresh, user)
        return {"refresh": str(refresh), "access": str(access)}


def _active_user(token: Token) -> Any:
    user = get_user_model().objects.filter(pk=token.get("user_id")).first()
    if user is None or not user.is_active:
        raise exceptions.AuthenticationFailed(
            "No active account found for the given token.", "no_active_account"
        )
    return user


class TokenObtainView(TokenObtainPairView):
    # simplejwt's base sets an unannotated ``()``, so mypy types it as an empty tuple; AllowAny
    # (same access) makes the OpenAPI schema say that no authentication is needed.
    permission_classes = (AllowAny,)  # type: ignore[assignment]
    throttle_classes = (LoginThrottle,)
    serializer_class = ObtainSerializer


class TokenRefreshRotatingView(TokenRefreshView):
    # simplejwt's base sets an unannotated ``()``, so mypy types it as an empty tuple; AllowAny
    # (same access) makes the OpenAPI schema say that no authentication is needed.
    permission_classes = (AllowAny,)  # type: ignore[assignment]
    throttle_classes = (LoginThrottle,)
    serializer_class = RefreshSerializer


class LogoutAllSerializer(serializers.Serializer):
    signed_out_at = serializers.DateTimeField()
    refresh_tokens_blacklisted = serializers.IntegerField(min_value=0)


class LogoutAllView(generics.GenericAPIView):
    """Sign the calling user out everywhere: every access and refresh token issued so far is
    refused from now on, and their browser sessions end. Sign in again for new tokens."""

    permission_classes = (IsAuthenticated,)
    serializer_class = LogoutAllSerializer
    pagination_class = None

    @extend_schema(request=None, responses={200: LogoutAllSerializer})
    def post(self, request: Request) -> Response:
        revoked = sign_out_everywhere(user=request.user, actor=request.user)
        body = {
            "signed_out_at": revoked.at,
            "refresh_tokens_blacklisted": revoked.refresh_tokens_blacklisted,
        }
        return Response(LogoutAllSerializer(body).data)
