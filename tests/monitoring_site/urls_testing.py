"""Small test-only views on top of the real URLs: roles, every error status, a router, throttles.

Used with ``@pytest.mark.urls("tests.monitoring_site.urls_testing")``.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.utils import InterfaceError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from rest_framework import serializers, viewsets
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from monitoring_site.api.errors import CodedValidationError, Conflict
from monitoring_site.api.permissions import IsAdmin, IsOperator, IsViewer, ViewerReadsAdminWrites
from monitoring_site.api.routing import Router, api_path
from monitoring_site.api.throttling import AnonThrottle, UserThrottle
from monitoring_site.models import JobRun
from monitoring_site.urls import handler400, handler403, handler404, handler500
from monitoring_site.urls import urlpatterns as site_urlpatterns

__all__ = ["handler400", "handler403", "handler404", "handler500", "urlpatterns"]


def _role_view(permission: type, label: str) -> Any:
    class RoleView(APIView):
        permission_classes = (permission,)

        def get(self, request: Request) -> Response:
            return Response({"allowed": label, "user": request.user.username})

        def post(self, request: Request) -> Response:
            return Response({"changed": label, "user": request.user.username}, status=201)

    return RoleView.as_view()


class ThingSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=10)
    size = serializers.IntegerField(min_value=1)


class ErrorView(APIView):
    """``GET /api/test/errors/<kind>`` raises the kind of error asked for."""

    permission_classes = (AllowAny,)

    def get(self, request: Request, name: str) -> Response:
        if name == "validation":
            ThingSerializer(data={"name": "far too long a name", "size": 0}).is_valid(
                raise_exception=True
            )
        if name == "coded":
            raise CodedValidationError(
                "Too many series for this metric.",
                code="series_limit",
                details={"labels": ["at most 100 label sets"]},
            )
        if name == "conflict":
            raise Conflict("The alert is already resolved.", details={"state": "resolved"})
        if name == "missing":
            raise Http404("no such thing")
        if name == "forbidden":
            raise PermissionDenied("secret")
        if name == "crash":
            raise RuntimeError("boom: the database password is hunter2")
        if name == "database-down":
            raise OperationalError('connection to server at "127.0.0.1", port 5432 failed')
        return Response({"name": name})


class EchoView(APIView):
    """Echoes the parsed body, so the size limit and parse errors are visible."""

    permission_classes = (AllowAny,)

    def post(self, request: Request) -> Response:
        return Response({"keys": sorted(request.data)})


class TightAnonThrottle(AnonThrottle):
    rate = "3/min"


class TightUserThrottle(UserThrottle):
    rate = "3/min"


class ThrottledView(APIView):
    permission_classes = (AllowAny,)
    throttle_classes = (TightAnonThrottle, TightUserThrottle)

    def get(self, request: Request) -> Response:
        return Response({"ok": True})


class JobRunSerializer(serializers.ModelSerializer):
    class Meta:
        model = JobRun
        fields = ("id", "job", "outcome")


class JobRunViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = JobRun.objects.order_by("id")
    serializer_class = JobRunSerializer


@csrf_exempt
def plain_body(request: HttpRequest) -> HttpResponse:
    """A plain Django view reading the body: its size limit must answer 413 too."""
    return HttpResponse(str(len(request.body)), content_type="text/plain")


def plain_form(request: HttpRequest) -> HttpResponse:
    """A plain Django view with CSRF protection, as a session-authenticated form post."""
    return HttpResponse("ok", content_type="text/plain")


def plain_database_down(request: HttpRequest) -> HttpResponse:
    """A plain Django view whose connection broke (a server restarted under it)."""
    raise InterfaceError("connection already closed")


def plain_crash(request: HttpRequest) -> HttpResponse:
    """A plain Django view (not DRF) that fails: the 500 must still be JSON under /api/."""
    raise RuntimeError("plain view failure")


router = Router()
router.register("api/test/job-runs", JobRunViewSet, basename="test-job-runs")

urlpatterns = [
    api_path("api/test/viewer", _role_view(IsViewer, "viewer")),
    api_path("api/test/operator", _role_view(IsOperator, "operator")),
    api_path("api/test/admin", _role_view(IsAdmin, "admin")),
    api_path("api/test/reads-writes", _role_view(ViewerReadsAdminWrites, "reads-writes")),
    api_path("api/test/errors/<str:name>", ErrorView.as_view()),
    api_path("api/test/echo", EchoView.as_view()),
    api_path("api/test/throttled", ThrottledView.as_view()),
    api_path("api/test/plain-crash", plain_crash),
    api_path("api/test/plain-database-down", plain_database_down),
    path("test/plain-database-down", plain_database_down),
    api_path("api/test/plain-body", plain_body),
    api_path("api/test/plain-form", plain_form),
    *router.urls,
    *site_urlpatterns,
]
