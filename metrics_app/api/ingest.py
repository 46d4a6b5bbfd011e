"""POST /api/v1/metrics/ingest: validate a whole batch, then store it in a few upserts."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.utils import timezone
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import exceptions, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from metrics_app.api.auth import IngestThrottle, IngestTokenAuthentication, IsIngestTokenOrAdmin
from metrics_app.catalogue import CATALOGUE
from metrics_app.errors import SamplesRejected
from metrics_app.ingest import parse_samples
from metrics_app.models import IngestToken
from metrics_app.services import store_samples
from monitoring_site.api.authentication import JWTAuthentication
from monitoring_site.api.errors import CodedValidationError, PayloadTooLarge
from monitoring_site.api.parsers import loads_json

EXAMPLE = {
    "samples": [
        {"metric": "tickets_sold_total", "value": 3},
        {"metric": "revenue_total_cents", "labels": {"type": "primary"}, "value": 15000},
        {"metric": "http_request_duration_ms", "labels": {"route": "/orders"}, "value": 42.5},
        {"metric": "queue_size", "labels": {"queue": "mint"}, "value": 7, "timestamp": 1796000000},
    ]
}


_NAME = r"^[a-zA-Z_][a-zA-Z0-9_]*$"
SAMPLE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["metric"],
    "properties": {
        "metric": {
            "anyOf": [
                {"type": "string", "enum": [spec.name for spec in CATALOGUE]},
                {"type": "string", "pattern": _NAME, "description": "A metric an admin added."},
            ]
        },
        "labels": {
            "type": "object",
            "description": "The metric's label names (docs/metrics.md) to non-empty text.",
            "additionalProperties": {"type": "string", "minLength": 1},
        },
        "value": {
            "type": "number",
            "description": "A counter's increment (>= 0), a gauge's value; not with observations.",
        },
        "observations": {
            "type": "array",
            "minItems": 1,
            "items": {"type": "number"},
            "description": "Histogram or summary observations; not with value.",
        },
        "timestamp": {
            "oneOf": [
                {"type": "string", "format": "date-time"},
                {"type": "number", "description": "Epoch seconds."},
            ],
            "description": "Default: now. Within the accepted age and future window.",
        },
    },
}
INGEST_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["samples"],
    "properties": {"samples": {"type": "array", "items": SAMPLE_SCHEMA}},
}


class IngestView(APIView):
    """Push samples. Counters send increments, gauges values, histograms observations."""

    authentication_classes = (IngestTokenAuthentication, JWTAuthentication)
    permission_classes = (IsIngestTokenOrAdmin,)
    throttle_classes = (IngestThrottle,)

    @extend_schema(
        request={"application/json": INGEST_SCHEMA},
        responses={
            202: {
                "type": "object",
                "properties": {"accepted": {"type": "integer", "minimum": 0}},
                "required": ["accepted"],
            }
        },
        examples=[OpenApiExample("A mixed batch", value=EXAMPLE, request_only=True)],
    )
    def post(self, request: Request) -> Response:
        items = _samples_of(request)
        token = request.auth if isinstance(request.auth, IngestToken) else None
        now = timezone.now()
        samples, errors = parse_samples(
            items,
            now=now,
            service=token.service if token else None,
            multi_service=token.multi_service if token else True,
        )
        if errors:
            raise exceptions.ValidationError({"samples": errors})
        if sum(len(sample.values) for sample in samples) > settings.METRICS_INGEST_MAX_SAMPLES:
            raise PayloadTooLarge(
                f"At most {settings.METRICS_INGEST_MAX_SAMPLES} values (observations) a request."
            )
        try:
            accepted = store_samples(
                samples=samples, now=now, service=token.service if token else None
            )
        except SamplesRejected as exc:
            raise CodedValidationError(exc.message, code=exc.code, details=exc.details) from None
        return Response({"accepted": accepted}, status=status.HTTP_202_ACCEPTED)


def _samples_of(request: Request) -> list[Any]:
    content_type = (request.content_type or "").split(";")[0].strip().lower()
    if content_type != "application/json":
        raise exceptions.ValidationError(
            {"content_type": [f"Expected application/json, got {content_type or 'nothing'}."]}
        )
    limit = settings.METRICS_INGEST_MAX_BYTES
    length = request.META.get("CONTENT_LENGTH") or "0"
    if length.isascii() and length.isdigit() and (len(length) > 18 or int(length) > limit):
        raise PayloadTooLarge(f"The body is over {limit} bytes.")
    body = request.body
    if len(body) > limit:
        raise PayloadTooLarge(f"The body is over {limit} bytes.")
    data = loads_json(body, strict=False)  # a NaN is reported against its sample
    if not isinstance(data, dict) or not isinstance(data.get("samples"), list):
        raise exceptions.ValidationError({"samples": ['Expected {"samples": [...]}.']})
    items = data["samples"]
    if len(items) > settings.METRICS_INGEST_MAX_SAMPLES:
        raise PayloadTooLarge(f"At most {settings.METRICS_INGEST_MAX_SAMPLES} samples a request.")
    return items
