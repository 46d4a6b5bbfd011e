"""Throttles keyed on the real client address (see ``client_ip``) and stored in the cache."""

from __future__ import annotations

from typing import Any

from rest_framework.request import Request
from rest_framework.throttling import AnonRateThrottle, SimpleRateThrottle, UserRateThrottle

from monitoring_site.net import client_ip


class _ClientIpMixin:
    def get_ident(self, request: Request) -> str:
        return client_ip(request)


class AnonThrottle(_ClientIpMixin, AnonRateThrottle):
    scope = "anon"


class UserThrottle(_ClientIpMixin, UserRateThrottle):
    scope = "user"


class LoginThrottle(_ClientIpMixin, SimpleRateThrottle):
    """Password attempts per client address."""

    scope = "login"

    def get_cache_key(self, request: Request, view: Any) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
