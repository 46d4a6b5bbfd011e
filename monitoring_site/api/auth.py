"""JWT endpoints: obtain (throttled per client address) and refresh (rotating, blacklisting)."""

from __future__ import annotations

from rest_framework.permissions import AllowAny
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView

from monitoring_site.api.throttling import LoginThrottle


class TokenObtainView(TokenObtainPairView):
    permission_classes = (AllowAny,)
    throttle_classes = (LoginThrottle,)


class TokenRefreshRotatingView(TokenRefreshView):
    permission_classes = (AllowAny,)
    throttle_classes = (LoginThrottle,)
