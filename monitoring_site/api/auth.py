"""JWT endpoints: obtain (throttled per client address) and refresh (rotating, blacklisting)."""

from __future__ import annotations

from rest_framework.permissions import AllowAny
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView

from monitoring_site.api.throttling import LoginThrottle


class TokenObtainView(TokenObtainPairView):
    # simplejwt's base sets an unannotated ``()``, so mypy types it as an empty tuple; AllowAny
    # (same access) makes the OpenAPI schema say that no authentication is needed.
    permission_classes = (AllowAny,)  # type: ignore[assignment]
    throttle_classes = (LoginThrottle,)


class TokenRefreshRotatingView(TokenRefreshView):
    # simplejwt's base sets an unannotated ``()``, so mypy types it as an empty tuple; AllowAny
    # (same access) makes the OpenAPI schema say that no authentication is needed.
    permission_classes = (AllowAny,)  # type: ignore[assignment]
    throttle_classes = (LoginThrottle,)
