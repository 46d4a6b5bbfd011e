"""Ingest tokens: a recognisable prefix, checked before any JWT parsing, stored hashed."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

from metrics_app.models import IngestToken
from metrics_app.services import find_ingest_token, looks_like_ingest_token
from monitoring_site.roles import Role, has_role


class IngestPrincipal:
    """The request's user when a platform service pushes with an ingest token."""

    is_authenticated = True
    is_active = True
    is_anonymous = False
    is_superuser = False
    is_staff = False

    def __init__(self, token: IngestToken) -> None:
        self.token = token
        self.pk = None
        self.id = None
        self.username = f"ingest:{token.prefix}"

    def __str__(self) -> str:
        return self.username


class IngestTokenAuthentication(BaseAuthentication):
    """``Authorization: Bearer mtk_...``; any other bearer value is left to the JWT class."""

    def authenticate(self, request: Request) -> tuple[IngestPrincipal, IngestToken] | None:
        parts = get_authorization_header(request).split()
        if len(parts) != 2 or parts[0].lower() != b"bearer":
            return None
        try:
            raw = parts[1].decode("ascii")
        except UnicodeDecodeError:
            return None
        if not looks_like_ingest_token(raw):
            return None
        token = find_ingest_token(raw)
        if token is None:
            raise exceptions.AuthenticationFailed("Ingest token unknown or revoked.")
        return IngestPrincipal(token), token

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="metrics"'


class IsIngestTokenOrAdmin(BasePermission):
    message = "Pushing samples needs an ingest token or the admin role."

    def has_permission(self, request: Request, view: Any) -> bool:
        if isinstance(request.auth, IngestToken):
            return True
        return has_role(request.user, Role.ADMIN)


class IngestThrottle(SimpleRateThrottle):
    """Per token (or per admin user): a high rate that still stops a runaway client."""

    scope = "ingest"

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        if isinstance(request.auth, IngestToken):
            ident = f"token-{request.auth.pk}"
        elif request.user and request.user.is_authenticated:
            ident = f"user-{request.user.pk}"
        else:
            return None
        return self.cache_format % {"scope": self.scope, "ident": ident}


class IngestTokenScheme(OpenApiAuthenticationExtension):
    """How the OpenAPI schema describes ingest tokens."""

    target_class = "metrics_app.api.auth.IngestTokenAuthentication"
    name = "ingestToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A per-service ingest token (mtk_...), see docs/metrics.md.",
        }
