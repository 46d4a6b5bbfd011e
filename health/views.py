"""/health for load balancers and scripts, and the dashboard with its JSON feeds."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from health.apps import process_uptime
from health.auth import LOGIN_URL
from health.models import Service
from health.outcomes import State
from health.selectors import dashboard_payload, health_payload, health_problems, iso, latency_series
from health.services import note_overall_status
from monitoring_site.api.errors import error_body
from monitoring_site.api.permissions import IsViewer
from monitoring_site.roles import Role, has_role

logger = logging.getLogger(__name__)


class _HealthAccess(BasePermission):
    def has_permission(self, request: Request, view: Any) -> bool:
        if settings.HEALTH_PUBLIC:
            return True
        return IsViewer().has_permission(request, view)


class HealthView(APIView):
    """``GET /health``: the stored state; 200 healthy or degraded, 503 unhealthy."""

    permission_classes = (_HealthAccess,)
    throttle_classes = ()  # load balancers poll it; it reads a handful of rows

    @extend_schema(responses={200: OpenApiTypes.OBJECT, 503: OpenApiTypes.OBJECT}, auth=[])
    def get(self, request: Request) -> Response:
        try:
            body = health_payload(uptime=process_uptime())
            problems = health_problems(body)
        except DatabaseError as exc:
            body = _database_down()
            problems = [f"database unreachable: {type(exc).__name__}"]
        note_overall_status(status=body["status"], problems=problems)
        response = Response(body, status=503 if body["status"] == "unhealthy" else 200)
        response["Cache-Control"] = "no-store"
        # A 503 here is an answer, not a server error: the change was logged above, once, and
        # Django's request log would otherwise add an ERROR line on every poll.
        response._has_been_logged = True  # type: ignore[attr-defined]
        return response


def _database_down() -> dict[str, Any]:
    now = timezone.now()
    return {
        "status": "unhealthy",
        "uptime": process_uptime(),
        "checked_at": None,
        "stale": True,
        "services": [],
        "dependencies": {
            "database": {
                "status": State.DOWN.value,
                "last_checked": iso(now),
                "error": "unreachable",
            },
            "redis": {"status": State.UNKNOWN.value},
            "workers": {"status": State.UNKNOWN.value},
        },
    }


def _dashboard_denied(request: HttpRequest, *, page: bool) -> HttpResponse | None:
    if settings.DASHBOARD_PUBLIC:
        return None
    user = request.user
    if not user.is_authenticated:
        if page:
            return redirect_to_login(request.get_full_path(), login_url=LOGIN_URL)
        return JsonResponse(error_body(401, "Log in to see the dashboard."), status=401)
    if not has_role(user, Role.VIEWER):
        if page:
            return HttpResponse(
                "This needs the viewer role.", status=403, content_type="text/plain"
            )
        return JsonResponse(error_body(403, "This needs the viewer role."), status=403)
    return None


WALL_VALUES = {"1": True, "true": True, "0": False, "false": False}


@never_cache
def dashboard(request: HttpRequest) -> HttpResponse:
    """The dashboard; it refreshes itself from :func:`dashboard_data`. ``?wall=1``: wall screen."""
    denied = _dashboard_denied(request, page=True)
    if denied:
        return denied
    raw = request.GET.get("wall", "0").lower()
    if raw not in WALL_VALUES:
        return HttpResponse(
            "wall: expected 1 (wall-screen mode) or 0.", status=400, content_type="text/plain"
        )
    return render(
        request,
        "health/dashboard.html",
        {
            "refresh_seconds": settings.HEALTH_DASHBOARD_REFRESH_SECONDS,
            "public": settings.DASHBOARD_PUBLIC,
            "demo_mode": settings.DEMO_MODE,
            "wall": WALL_VALUES[raw],
        },
    )


@never_cache
def dashboard_data(request: HttpRequest) -> HttpResponse:
    denied = _dashboard_denied(request, page=False)
    if denied:
        return denied
    return JsonResponse(dashboard_payload())


@never_cache
def dashboard_latency(request: HttpRequest, pk: str) -> HttpResponse:
    denied = _dashboard_denied(request, page=False)
    if denied:
        return denied
    service = get_object_or_404(Service, pk=int(pk), enabled=True)
    since = timezone.now() - timedelta(hours=24)
    return JsonResponse(
        {
            "service": service.slug,
            "name": service.name,
            "points": latency_series(service, since=since),
        }
    )
