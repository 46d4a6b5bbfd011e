"""Alert and rule endpoints: views validate, call a service, serialize."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from alerts import selectors
from alerts.api.fields import format_duration, parse_duration
from alerts.api.serializers import (
    AlertDetailSerializer,
    AlertSerializer,
    AlertsOverviewSerializer,
    RuleSerializer,
)
from alerts.models import Alert, Rule
from alerts.services import InvalidTransition, acknowledge_alert, resolve_alert, resolve_rule_alerts
from monitoring_site.api.errors import Conflict
from monitoring_site.api.permissions import IsOperator, IsViewer, ViewerReadsAdminWrites

MAX_ID = 2**63 - 1  # beyond any row (and beyond what SQLite can bind)


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


def _instant(request: Request, name: str) -> datetime | None:
    raw = request.query_params.get(name)
    if not raw:
        return None
    value = parse_datetime(raw.replace(" ", "+"))
    if value is None:
        raise serializers.ValidationError({name: ["Expected an ISO 8601 date-time."]})
    return value if timezone.is_aware(value) else timezone.make_aware(value, timezone.utc)


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
        queryset = self._by_rule(queryset, request.query_params.get("rule"))
        service = request.query_params.get("service")
        if service:
            queryset = queryset.filter(labels__service=service)
        since, until = _instant(request, "since"), _instant(request, "until")
        if since:
            queryset = queryset.filter(started_at__gte=since)
        if until:
            queryset = queryset.filter(started_at__lte=until)
        return queryset

    def _by_rule(self, queryset: QuerySet[Alert], rule: str | None) -> QuerySet[Alert]:
        if not rule:
            return queryset
        if rule.isdigit():
            pk = int(rule)
            return queryset.filter(rule_id=pk) if pk <= MAX_ID else queryset.none()
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

    @extend_schema(request=None, responses={200: AlertDetailSerializer})
    def post(self, request: Request, pk: int) -> Response:
        alert = get_object_or_404(Alert, pk=pk)
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


class RuleViewSet(viewsets.ModelViewSet):
    """``/api/v1/monitoring/alerts/rules``: viewers read, admins write; checked on save."""

    permission_classes = [ViewerReadsAdminWrites]
    serializer_class = RuleSerializer
    queryset = Rule.objects.prefetch_related("notification_channels").order_by("name")
    lookup_value_regex = "[0-9]+"

    def perform_update(self, serializer: RuleSerializer) -> None:
        was_enabled = serializer.instance.enabled
        rule = serializer.save()
        if was_enabled and not rule.enabled:
            resolve_rule_alerts(rule=rule, actor=self.request.user.get_username())

    def perform_destroy(self, instance: Rule) -> None:
        if instance.builtin:
            raise Conflict(
                "The built-in rule cannot be deleted; disable it instead.",
                details={"builtin": True},
            )
        resolve_rule_alerts(rule=instance, actor=self.request.user.get_username())
        instance.delete()

    @extend_schema(
        request=None,
        responses={200: OpenApiTypes.OBJECT},
        parameters=[OpenApiParameter("range", str, description='e.g. "24h" (default), "7d"')],
    )
    @action(detail=True, methods=["post"], permission_classes=[IsViewer])
    def preview(self, request: Request, pk: str | None = None) -> Response:
        """Replay the rule over stored history: ``?range=24h`` (up to ALERT_PREVIEW_MAX_DAYS)."""
        from alerts.preview import preview_rule

        rule = self.get_object()
        if rule.builtin:
            raise serializers.ValidationError({"rule": ["The built-in rule has no expression."]})
        window = _preview_range(request.query_params.get("range", "24h"))
        step = _preview_step(window)
        end = timezone.now()
        replay = preview_rule(rule, start=end - window, end=end, step=step)
        return Response(
            {
                "rule": rule.pk,
                "range": format_duration(int(window.total_seconds())),
                "step": format_duration(int(step.total_seconds())),
                "start": end - window,
                "end": end,
                "points": replay.points,
                "fired": len(replay.episodes),
                "episodes": replay.episodes,
            }
        )


def _preview_range(raw: str) -> timedelta:
    seconds = parse_duration(raw)
    longest = settings.ALERT_PREVIEW_MAX_DAYS * 86400
    if seconds is None or not 60 <= seconds <= longest:
        raise serializers.ValidationError(
            {"range": [f'Expected a duration from "1m" to "{settings.ALERT_PREVIEW_MAX_DAYS}d".']}
        )
    return timedelta(seconds=seconds)


def _preview_step(window: timedelta) -> timedelta:
    interval = settings.RULE_EVALUATION_INTERVAL_MINUTES * 60
    points = settings.ALERT_PREVIEW_MAX_POINTS
    minutes = max(1, math.ceil(window.total_seconds() / points / 60))
    return timedelta(seconds=max(interval, minutes * 60))
