"""``POST /api/v2/alerts``: the Alertmanager-compatible intake for Prometheus and vmalert.

Senders authenticate with an intake token (``itk_...``), sent as a bearer token
(Prometheus ``authorization: {credentials: ...}``, vmalert ``-notifier.bearerToken``) or as the
password of basic auth (``basic_auth``, ``-notifier.basicAuth.password``); an admin's JWT works
too. The body is validated whole before anything is stored.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import exceptions, status
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView

from alerts import actors
from alerts.intake.parsing import parse_alerts
from alerts.intake.services import IntakeUnavailable, receive_alerts
from alerts.intake.tokens import find_intake_token, looks_like_intake_token
from alerts.models import IntakeToken
from monitoring_site.api.authentication import JWTAuthentication
from monitoring_site.api.errors import PayloadTooLarge
from monitoring_site.roles import Role, has_role


class IntakePrincipal:
    """The request's user when a sender posts alerts with an intake token."""

    is_authenticated = True
    is_active = True
    is_anonymous = False
    is_superuser = False
    is_staff = False

    def __init__(self, token: IntakeToken) -> None:
        self.token = token
        self.pk = None
        self.id = None
        self.username = f"{actors.INTAKE}:{token.name}"

    def __str__(self) -> str:
        return self.username


def _presented_token(request: Request) -> str | None:
    """The ``itk_`` token of a bearer header or of basic auth's password, if there is one."""
    parts = get_authorization_header(request).split()
    if len(parts) != 2:
        return None
    scheme, value = parts[0].lower(), parts[1]
    try:
        if scheme == b"bearer":
            raw = value.decode("ascii")
        elif scheme == b"basic":
            raw = base64.b64decode(value, validate=True).decode("utf-8").partition(":")[2]
        else:
            return None
    except (UnicodeDecodeError, binascii.Error, ValueError):
        return None
    return raw if looks_like_intake_token(raw) else None


class IntakeTokenAuthentication(BaseAuthentication):
    """An ``itk_`` bearer token or basic-auth password; anything else is left to JWT."""

    def authenticate(self, request: Request) -> tuple[IntakePrincipal, IntakeToken] | None:
        raw = _presented_token(request)
        if raw is None:
            return None
        token = find_intake_token(raw)
        if token is None:
            raise exceptions.AuthenticationFailed("Intake token unknown or revoked.")
        return IntakePrincipal(token), token

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="alerts"'


class IsIntakeTokenOrAdmin(BasePermission):
    message = "Posting alerts needs an intake token or the admin role."

    def has_permission(self, request: Request, view: Any) -> bool:
        return isinstance(request.auth, IntakeToken) or has_role(request.user, Role.ADMIN)


class IntakeThrottle(SimpleRateThrottle):
    """Per token (or per admin user)."""

    scope = "intake"

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        if isinstance(request.auth, IntakeToken):
            ident = f"token-{request.auth.pk}"
        elif request.user and request.user.is_authenticated:
            ident = f"user-{request.user.pk}"
        else:
            return None
        return self.cache_format % {"scope": self.scope, "ident": ident}


class IntakeTokenScheme(OpenApiAuthenticationExtension):
    target_class = "alerts.api.views.intake.IntakeTokenAuthentication"
    name = "intakeToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An intake token (itk_...), or basic auth with it as the password "
            "(docs/alerts.md).",
        }


class IntakeUnavailableError(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "intake_unavailable"


_TEXTS = {"type": "object", "additionalProperties": {"type": "string"}}
ALERT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["labels"],
    "properties": {
        "labels": {**_TEXTS, "minProperties": 1, "description": "The alert's identity."},
        "annotations": _TEXTS,
        "startsAt": {"type": "string", "format": "date-time"},
        "endsAt": {
            "type": "string",
            "format": "date-time",
            "description": "In the past: resolved. Else resolved then unless sent again.",
        },
        "generatorURL": {"type": "string", "format": "uri"},
    },
}
EXAMPLE = [
    {
        "labels": {"alertname": "HighErrorRate", "service": "payment", "severity": "critical"},
        "annotations": {"summary": "Payment errors above 5 %"},
        "startsAt": "2026-12-01T10:00:00Z",
        "endsAt": "2026-12-01T10:04:00Z",
        "generatorURL": "http://prometheus:9090/graph?g0.expr=...",
    }
]


class AlertmanagerAlertsView(APIView):
    """Receive alerts as Prometheus and vmalert send them to an Alertmanager (API v2)."""

    authentication_classes = (IntakeTokenAuthentication, JWTAuthentication)
    permission_classes = (IsIntakeTokenOrAdmin,)
    throttle_classes = (IntakeThrottle,)

    @extend_schema(
        request={"application/json": {"type": "array", "items": ALERT_SCHEMA}},
        responses={200: {"type": "object"}},
        examples=[OpenApiExample("A firing alert", value=EXAMPLE, request_only=True)],
    )
    def post(self, request: Request) -> Response:
        items = request.data
        if not isinstance(items, list):
            raise exceptions.ValidationError({"alerts": ["Expected a JSON array of alerts."]})
        if len(items) > settings.ALERT_INTAKE_MAX_ALERTS:
            raise PayloadTooLarge(f"At most {settings.ALERT_INTAKE_MAX_ALERTS} alerts a request.")
        alerts, errors = parse_alerts(items)
        if errors:
            raise exceptions.ValidationError({"alerts": errors})
        user = request.user
        actor = (
            str(user)
            if isinstance(user, IntakePrincipal)
            else actors.actor_name(user, default=actors.INTAKE)
        )
        try:
            outcome = receive_alerts(alerts=alerts, actor=actor[:200])
        except IntakeUnavailable as exc:
            raise IntakeUnavailableError(str(exc)) from None
        return Response({"status": "success", **outcome.as_dict()})
