"""API of rules: list, read, create, change, delete, and replay over history (preview)."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer

from alerts.api.serializers.rules import RuleSerializer
from alerts.api.views.language import backend_unavailable
from alerts.language.backends import BackendError
from alerts.models import Rule
from alerts.rules.preview import preview_rule
from alerts.rules.services import RuleProtected, create_rule, delete_rule, update_rule
from monitoring_site.api.errors import Conflict
from monitoring_site.api.params import (
    ParameterError,
    format_duration,
    parse_duration,
)
from monitoring_site.api.permissions import IsViewer, ViewerReadsAdminWrites
from monitoring_site.api.schema import error_responses


@extend_schema_view(destroy=extend_schema(extensions=error_responses(409)))
class RuleViewSet(viewsets.ModelViewSet):
    """``/api/v1/monitoring/alerts/rules``: viewers read, admins write; checked on save."""

    permission_classes = [ViewerReadsAdminWrites]
    serializer_class = RuleSerializer
    queryset = Rule.objects.prefetch_related("notification_channels").order_by("name")
    lookup_value_regex = "[0-9]+"

    def perform_create(self, serializer: BaseSerializer[Any]) -> None:
        serializer.instance = create_rule(fields=serializer.validated_data, user=self.request.user)

    def perform_update(self, serializer: BaseSerializer[Any]) -> None:
        assert isinstance(serializer.instance, Rule)
        serializer.instance = update_rule(
            rule=serializer.instance, changes=serializer.validated_data, user=self.request.user
        )

    def perform_destroy(self, instance: Rule) -> None:
        try:
            delete_rule(rule=instance, user=self.request.user)
        except RuleProtected as exc:
            raise Conflict(str(exc), details={"builtin": True}) from None

    @extend_schema(
        request=None,
        responses={200: OpenApiTypes.OBJECT},
        parameters=[OpenApiParameter("range", str, description='e.g. "24h" (default), "7d"')],
    )
    @action(detail=True, methods=["post"], permission_classes=[IsViewer])
    def preview(self, request: Request, pk: str | None = None) -> Response:
        """Replay the rule over stored history: ``?range=24h`` (up to ALERT_PREVIEW_MAX_DAYS)."""

        rule = self.get_object()
        if rule.builtin:
            raise serializers.ValidationError({"rule": ["The built-in rule has no expression."]})
        window = _preview_range(request.query_params.get("range", "24h"))
        step = _preview_step(window)
        end = timezone.now()
        try:
            replay = preview_rule(rule, start=end - window, end=end, step=step)
        except BackendError as exc:
            raise backend_unavailable(exc) from None
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
    longest = settings.ALERT_PREVIEW_MAX_DAYS * 86400
    try:
        seconds: int | None = parse_duration(raw)
    except ParameterError:
        seconds = None
    if seconds is None or not 60 <= seconds <= longest:
        raise serializers.ValidationError(
            {"range": [f'Expected a duration from "1m" to "{settings.ALERT_PREVIEW_MAX_DAYS}d".']}
        )
    return timedelta(seconds=seconds)


def _preview_step(window: timedelta) -> timedelta:
    # A preview replays stored minutes: a step shorter than a minute would repeat the same data.
    interval = max(60, settings.RULE_EVALUATION_INTERVAL_SECONDS)
    points = settings.ALERT_PREVIEW_MAX_POINTS
    minutes = max(1, math.ceil(window.total_seconds() / points / 60))
    return timedelta(seconds=max(interval, minutes * 60))
