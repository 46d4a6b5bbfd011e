"""API of rules: list, read, create, change, delete, replay over history (preview), and run
rule test files (``rules/test``)."""

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
from rest_framework.exceptions import ParseError
from rest_framework.parsers import BaseParser, JSONParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer
from rest_framework.views import APIView

from alerts.api.serializers.rules import RuleSerializer
from alerts.api.views.language import TextField, backend_unavailable
from alerts.language.backends import BackendError
from alerts.models import Rule
from alerts.rules.preview import preview_rule
from alerts.rules.services import RuleProtected, create_rule, delete_rule, update_rule
from alerts.rules.testing.runner import result_data, run_test_file
from alerts.rules.testing.spec import MAX_BYTES, SpecError, TooLarge, read_test_file
from monitoring_site.api.errors import CodedValidationError, Conflict, PayloadTooLarge
from monitoring_site.api.params import (
    ParameterError,
    format_duration,
    parse_duration,
)
from monitoring_site.api.permissions import IsOperator, IsViewer, ViewerReadsAdminWrites
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


class YamlTextParser(BaseParser):
    """A rule test file sent as it is (``application/yaml``, ``text/yaml``, ``text/plain``)."""

    media_type = "*/*"
    accepted = ("application/yaml", "application/x-yaml", "text/yaml", "text/plain")

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        raw = stream.read() if stream is not None else b""
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ParseError("content: the file is not UTF-8 text") from None


class RuleTestRequest(serializers.Serializer):
    content = TextField(
        allow_blank=True, trim_whitespace=False, help_text="The rule test file (YAML text)."
    )


class RuleTestView(APIView):
    """``POST .../alerts/rules/test``: run a rule test file on an isolated store (operators).

    The file is the body (``Content-Type: application/yaml``) or ``{"content": "<YAML>"}``. A run
    whose tests fail is still a 200 (``passed`` false, a diff per failing check); a malformed file
    is a 400 naming the line; past 100 KB or 10,000 input points a 413.
    """

    permission_classes = [IsOperator]
    parser_classes = [JSONParser, YamlTextParser]

    @extend_schema(request=RuleTestRequest, responses={200: OpenApiTypes.OBJECT})
    def post(self, request: Request) -> Response:
        if len(request.body) > MAX_BYTES:
            raise PayloadTooLarge(f"content: the file is larger than {MAX_BYTES // 1024} KB")
        text = self._content(request)
        try:
            test_file = read_test_file(text, name="content")
        except TooLarge as exc:
            raise PayloadTooLarge(f"content: {_where(exc)}") from None
        except SpecError as exc:
            raise CodedValidationError(
                f"content: {_where(exc)}",
                code="invalid_test_file",
                details={"content": [_where(exc)], "line": exc.line},
            ) from None
        return Response(result_data(run_test_file(test_file)))

    def _content(self, request: Request) -> str:
        if request.content_type.split(";")[0].strip() in YamlTextParser.accepted:
            data = request.data
            return data if isinstance(data, str) else ""
        if not isinstance(request.data, dict):
            raise serializers.ValidationError({"content": ["Expected a JSON object or YAML."]})
        serializer = RuleTestRequest(data=request.data)
        serializer.is_valid(raise_exception=True)
        return str(serializer.validated_data["content"])


def _where(exc: SpecError) -> str:
    return f"line {exc.line}: {exc.message}" if exc.line else exc.message
