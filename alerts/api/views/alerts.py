"""Alert and rule endpoints: views validate, call a service, serialize."""

from __future__ import annotations

import re

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from alerts import selectors
from alerts.api.serializers.alerts import (
    AlertDetailSerializer,
    AlertSerializer,
    AlertsOverviewSerializer,
)
from alerts.models import Alert, Rule
from alerts.services import InvalidTransition, acknowledge_alert, resolve_alert
from monitoring_site.api.errors import Conflict
from monitoring_site.api.params import (
    MAX_ID,
    ParameterError,
    parse_datetime,
    path_id,
    query_value,
)
from monitoring_site.api.permissions import IsOperator, IsViewer
from monitoring_site.api.schema import error_responses

SLUG = re.compile(r"[-a-zA-Z0-9_]{1,200}")


class AlertsOverviewView(APIView):
    """``GET /api/alerts``: the open alerts and those resolved in the last 24 hours."""

    permission_classes = [IsViewer]

    @extend_schema(responses=AlertsOverviewSerializer)
    def get(self, request: Request) -> Response:
        return Response(
            {
                "active": AlertSerializer(selectors.active_alerts(), many=True).data,
                "recent": AlertSerializer(selectors.recent_alerts(), many=True).data,
            }
        )


def _choice(request: Request, name: str, allowed: list[str]) -> list[str] | None:
    raw = request.query_params.get(name)
    if not raw:
        return None
    values = [item.strip() for item in raw.split(",") if item.strip()]
    unknown = [item for item in values if item not in allowed]
    if unknown:
        raise serializers.ValidationError(
            {name: [f"Unknown {name} {', '.join(unknown)}; expected {', '.join(allowed)}."]}
        )
    return values


def _rule_reference(raw: str) -> int | str:
    """``?rule=``: a rule id (ASCII digits) or a slug."""
    text = raw.strip()
    if text.isascii() and text.isdigit():
        # an id past any row finds nothing (no int() of thousands of digits)
        return int(text) if len(text) <= len(str(MAX_ID)) else MAX_ID + 1
    if not SLUG.fullmatch(raw):
        raise ParameterError("Expected a rule id or slug.")
    return raw


ALERT_FILTERS = [
    OpenApiParameter("state", str, description="Comma-separated: " + ", ".join(Alert.State.values)),
    OpenApiParameter(
        "severity", str, description="Comma-separated: " + ", ".join(Rule.Severity.values)
    ),
    OpenApiParameter(
        "source", str, description="Comma-separated: " + ", ".join(Alert.Source.values)
    ),
    OpenApiParameter("rule", str, description="A rule id or slug."),
    OpenApiParameter("service", str, description="The alert's service label."),
    OpenApiParameter("since", OpenApiTypes.DATETIME, description="Started at or after."),
    OpenApiParameter("until", OpenApiTypes.DATETIME, description="Started at or before."),
]


@extend_schema(parameters=ALERT_FILTERS)
class AlertListView(generics.ListAPIView):
    """``GET /api/v1/monitoring/alerts``: filter by state, severity, source, rule, service, time."""

    permission_classes = [IsViewer]
    serializer_class = AlertSerializer

    def get_queryset(self) -> QuerySet[Alert]:
        request = self.request
        queryset = Alert.objects.select_related("rule").order_by("-started_at", "-pk")
        for name, allowed in (
            ("state", Alert.State.values),
            ("severity", Rule.Severity.values),
            ("source", Alert.Source.values),
        ):
            values = _choice(request, name, allowed)
            if values:
                queryset = queryset.filter(**{f"{name}__in": values})
        queryset = self._by_rule(queryset, query_value(request, "rule", _rule_reference))
        service = request.query_params.get("service")
        if service:
            queryset = queryset.filter(labels__service=service)
        since = query_value(request, "since", parse_datetime)
        until = query_value(request, "until", parse_datetime)
        if since:
            queryset = queryset.filter(started_at__gte=since)
        if until:
            queryset = queryset.filter(started_at__lte=until)
        return queryset

    def _by_rule(self, queryset: QuerySet[Alert], rule: int | str | None) -> QuerySet[Alert]:
        if rule is None:
            return queryset
        if isinstance(rule, int):
            return queryset.filter(rule_id=rule) if rule <= MAX_ID else queryset.none()
        return queryset.filter(rule__slug=rule)


class AlertDetailView(generics.RetrieveAPIView):
    """``GET /api/v1/monitoring/alerts/<id>``: the alert and its event timeline."""

    permission_classes = [IsViewer]
    serializer_class = AlertDetailSerializer
    queryset = Alert.objects.select_related("rule").prefetch_related("events")


class _AlertTransitionView(APIView):
    permission_classes = [IsOperator]

    def change(self, alert: Alert, request: Request) -> Alert:
        raise NotImplementedError

    @extend_schema(
        request=None, responses={200: AlertDetailSerializer}, extensions=error_responses(409)
    )
    def post(self, request: Request, pk: int) -> Response:
        alert = get_object_or_404(Alert, pk=path_id(str(pk)))
        try:
            alert = self.change(alert, request)
        except InvalidTransition as exc:
            raise Conflict(exc.message, details={"state": exc.state}) from None
        alert = Alert.objects.select_related("rule").prefetch_related("events").get(pk=alert.pk)
        return Response(AlertDetailSerializer(alert).data)


class AlertAcknowledgeView(_AlertTransitionView):
    """``POST .../alerts/<id>/acknowledge`` (or ``/api/alerts/acknowledge/alert-<id>``): own it."""

    def change(self, alert: Alert, request: Request) -> Alert:
        return acknowledge_alert(alert=alert, user=request.user)


class AlertResolveView(_AlertTransitionView):
    """``POST .../alerts/<id>/resolve``: close it by hand."""

    def change(self, alert: Alert, request: Request) -> Alert:
        return resolve_alert(alert=alert, user=request.user)
