"""The rule language over HTTP: validate an expression, or evaluate it now (or at a time)."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from alerts.language import RuleError, Scalar, Vector, check, evaluate, parse
from alerts.language.backends import BackendError, absent_metrics
from monitoring_site.api.errors import Unavailable, error_body
from monitoring_site.api.params import ParameterError, parse_datetime
from monitoring_site.api.permissions import IsViewer

EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = timedelta(days=1)


class TextField(serializers.CharField):
    """Text only: a number is not an expression (CharField would turn 5 into "5")."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class ValidateRequest(serializers.Serializer):
    expression = TextField(allow_blank=True, trim_whitespace=False)


class QueryRequest(ValidateRequest):
    time = serializers.JSONField(
        required=False, help_text="RFC 3339 with an offset, or epoch seconds; default: now."
    )


def rule_error_response(exc: RuleError) -> Response:
    """400 in the house error shape; ``details`` names the field and locates the mistake."""
    details = {"expression": [exc.message], **exc.as_dict()}
    details.pop("message")
    return Response(
        error_body(400, f"expression: {exc}", code="invalid_expression", details=details),
        status=400,
    )


def backend_unavailable(exc: BackendError) -> Unavailable:
    """503: the expression is fine, the metrics backend could not answer it."""
    return Unavailable(f"metrics backend: {exc.message}", code="metrics_backend_unavailable")


def _field_error(field: str, message: str) -> Response:
    return Response(error_body(400, f"{field}: {message}", details={field: [message]}), status=400)


def _expression(request: Request, serializer_class: type[ValidateRequest]) -> dict[str, Any]:
    if not isinstance(request.data, dict):
        raise serializers.ValidationError({"non_field_errors": ["Expected a JSON object."]})
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class ValidateView(APIView):
    """Parse and type-check an expression; nothing is stored."""

    permission_classes = [IsViewer]

    @extend_schema(request=ValidateRequest, responses={200: OpenApiTypes.OBJECT})
    def post(self, request: Request) -> Response:
        data = _expression(request, ValidateRequest)
        try:
            info = check(data["expression"])
        except RuleError as exc:
            return rule_error_response(exc)
        warnings = [*info.warnings, *absent_metrics(info.metrics, at=timezone.now())]
        return Response(
            {"valid": True, "type": info.type, "metrics": info.metrics, "warnings": warnings}
        )


class QueryView(APIView):
    """Evaluate an expression at an instant (default now) with the rule engine's evaluator."""

    permission_classes = [IsViewer]

    @extend_schema(request=QueryRequest, responses={200: OpenApiTypes.OBJECT})
    def post(self, request: Request) -> Response:
        data = _expression(request, QueryRequest)
        at = parse_time(data.get("time"))
        if isinstance(at, str):
            return _field_error("time", at)
        try:
            info = check(data["expression"])
            result = evaluate(parse(data["expression"]), at=at)
        except BackendError as exc:
            raise backend_unavailable(exc) from None
        except RuleError as exc:
            return rule_error_response(exc)
        body: dict[str, Any] = {"type": info.type, "time": _iso(at), "warnings": info.warnings}
        body["result"] = serialize_result(result)
        return Response(body)


def parse_time(raw: Any) -> datetime | str:
    """The instant asked for, or the reason it is not one."""
    if raw is None:
        return timezone.now()
    try:
        moment = parse_datetime(raw)
    except ParameterError as exc:
        return str(exc)
    if not EARLIEST <= moment <= timezone.now() + LATEST:
        return "Expected a time between 2000-01-01 and one day from now."
    return moment


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def json_number(value: float) -> float | str:
    """JSON has no NaN or infinity: those are sent as "NaN", "+Inf" and "-Inf" (as Prometheus)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return value


def serialize_result(result: Scalar | Vector) -> Any:
    if isinstance(result, Scalar):
        return json_number(result.value)
    samples = sorted(result.samples, key=lambda s: sorted(s.labels.items()))
    return [{"labels": s.labels, "value": json_number(s.value)} for s in samples]
