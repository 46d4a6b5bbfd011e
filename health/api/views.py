"""Health API: the registry (viewer reads, admin writes), details, history, a round on demand."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from health.api.serializers import SERVICE_HISTORY_SCHEMA, ServiceSerializer, round_report
from health.models import CheckResult, Service, UptimeHour
from health.selectors import detailed_payload, iso
from health.services import create_service, delete_service, run_round, update_service
from monitoring_site.api.errors import CodedValidationError
from monitoring_site.api.params import parse_datetime, query_value
from monitoring_site.api.permissions import IsOperator, IsViewer, ViewerReadsAdminWrites
from monitoring_site.api.throttling import UserThrottle
from monitoring_site.net import client_ip

MAX_RAW_SPAN = timedelta(days=31)
MAX_HOURLY_SPAN = timedelta(days=400)
MAX_POINTS = 10_000


SERVICE_FILTERS = [
    OpenApiParameter("kind", str, enum=list(Service.Kind.values)),
    OpenApiParameter("state", str, enum=list(Service.State.values)),
    OpenApiParameter("enabled", bool),
    OpenApiParameter("critical", bool),
    OpenApiParameter("tag", str, description="Services carrying this tag."),
]


@extend_schema_view(list=extend_schema(parameters=SERVICE_FILTERS))
class ServiceViewSet(viewsets.ModelViewSet):
    """The service registry. Filters: ``kind``, ``state``, ``enabled``, ``critical``, ``tag``."""

    serializer_class = ServiceSerializer
    permission_classes = (ViewerReadsAdminWrites,)
    queryset = Service.objects.prefetch_related("depends_on").order_by("name")

    def perform_create(self, serializer: BaseSerializer[Any]) -> None:
        serializer.instance = create_service(
            fields=serializer.validated_data, user=self.request.user
        )

    def perform_update(self, serializer: BaseSerializer[Any]) -> None:
        assert isinstance(serializer.instance, Service)
        serializer.instance = update_service(
            service=serializer.instance, changes=serializer.validated_data, user=self.request.user
        )

    def perform_destroy(self, instance: Service) -> None:
        delete_service(service=instance, user=self.request.user)

    def get_queryset(self) -> Any:
        queryset = super().get_queryset()
        params = self.request.query_params
        for name, allowed in (("kind", Service.Kind.values), ("state", Service.State.values)):
            if params.get(name):
                if params[name] not in allowed:
                    raise CodedValidationError(
                        f"{name}: expected one of {', '.join(allowed)}.",
                        code="invalid",
                        details={name: [f"Expected one of {', '.join(allowed)}."]},
                    )
                queryset = queryset.filter(**{name: params[name]})
        for name in ("enabled", "critical"):
            if params.get(name) in ("true", "false"):
                queryset = queryset.filter(**{name: params[name] == "true"})
        if params.get("tag"):
            wanted = params["tag"]
            rows = queryset.values_list("pk", "tags")
            tagged = [pk for pk, tags in rows if wanted in (tags or [])]
            queryset = queryset.filter(pk__in=tagged)
        return queryset

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "from", OpenApiTypes.DATETIME, description="ISO time (default: 24 hours ago)"
            ),
            OpenApiParameter("to", OpenApiTypes.DATETIME, description="ISO time (default: now)"),
            OpenApiParameter("resolution", str, enum=["raw", "hour"]),
        ],
        responses={200: SERVICE_HISTORY_SCHEMA},
    )
    @action(detail=True, methods=["get"], url_path="history")
    def history(self, request: Request, pk: str | None = None) -> Response:
        """Raw results (``resolution=raw``, spans up to 31 days) or hourly uptime."""
        service = self.get_object()
        now = timezone.now()
        start = _time_param(request, "from", now - timedelta(hours=24))
        end = _time_param(request, "to", now)
        if start >= end:
            raise CodedValidationError(
                "from: must be before to.", code="invalid", details={"from": ["Must be before to."]}
            )
        resolution = request.query_params.get("resolution") or (
            "raw" if end - start <= timedelta(days=2) else "hour"
        )
        if resolution not in ("raw", "hour"):
            raise CodedValidationError(
                "resolution: expected raw or hour.",
                code="invalid",
                details={"resolution": ["Expected raw or hour."]},
            )
        limit = MAX_RAW_SPAN if resolution == "raw" else MAX_HOURLY_SPAN
        if end - start > limit:
            raise CodedValidationError(
                f"from: the span may be at most {limit.days} days at resolution {resolution}.",
                code="invalid",
                details={"from": [f"The span may be at most {limit.days} days."]},
            )
        points = _raw(service, start, end) if resolution == "raw" else _hourly(service, start, end)
        return Response(
            {
                "service": service.slug,
                "from": iso(start),
                "to": iso(end),
                "resolution": resolution,
                "points": points,
            }
        )


def _time_param(request: Request, name: str, default: datetime) -> datetime:
    return query_value(request, name, parse_datetime) or default


def _raw(service: Service, start: datetime, end: datetime) -> list[dict[str, Any]]:
    rows = CheckResult.objects.filter(
        service=service, checked_at__gte=start, checked_at__lt=end
    ).order_by("checked_at")[:MAX_POINTS]
    return [
        {
            "at": iso(row.checked_at),
            "outcome": row.outcome,
            "latency_ms": row.latency_ms,
            "status_code": row.status_code,
            "error": row.error,
        }
        for row in rows
    ]


def _hourly(service: Service, start: datetime, end: datetime) -> list[dict[str, Any]]:
    rows = UptimeHour.objects.filter(service=service, hour__gte=start, hour__lt=end).order_by(
        "hour"
    )[:MAX_POINTS]
    return [
        {
            "hour": iso(row.hour),
            "checks": row.checks,
            "up": row.up,
            "degraded": row.degraded,
            "down": row.down,
            "uptime": round(row.available / row.checks, 6) if row.checks else None,
            "latency_avg_ms": (
                round(row.latency_sum_ms / row.latency_count, 2) if row.latency_count else None
            ),
        }
        for row in rows
    ]


class HealthDetailedView(APIView):
    """Per service: state, streaks, last result, latency p50/p95 (1 h), uptime 24 h/7 d/30 d."""

    permission_classes = (IsViewer,)

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request) -> Response:
        return Response(detailed_payload())


class HealthCheckThrottle(ScopedRateThrottle):
    """Rounds on demand per user (or client address): they probe the whole platform."""

    def get_ident(self, request: Request) -> str:
        return client_ip(request)


class HealthCheckView(APIView):
    """Run a round now (operator) and return its results and state changes."""

    permission_classes = (IsOperator,)
    throttle_classes = (UserThrottle, HealthCheckThrottle)
    throttle_scope = "health_check"

    @extend_schema(request=None, responses={200: OpenApiTypes.OBJECT})
    def post(self, request: Request) -> Response:
        report = run_round()
        services = Service.objects.in_bulk(list(report.results))
        return Response(round_report(report, services))
