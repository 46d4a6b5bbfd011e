"""API of anomaly detection: detectors (viewers read, admins write), scores, forecasts."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer
from rest_framework.views import APIView

from alerts.anomalies import selectors
from alerts.anomalies.services import create_detector, delete_detector, update_detector
from alerts.api.serializers.alerts import AlertSerializer
from alerts.api.serializers.anomalies import (
    AnomalyDetectorSerializer,
    AnomalyScoreSerializer,
    ForecastSerializer,
)
from alerts.models import AnomalyDetector
from monitoring_site.api.params import MAX_ID, ParameterError, parse_datetime, query_value
from monitoring_site.api.permissions import IsViewer, ViewerReadsAdminWrites

SCORES_LIMIT = 1000
SCORES_MAX_LIMIT = 10_000


class AnomalyDetectorViewSet(viewsets.ModelViewSet):
    """``/api/v1/monitoring/anomalies/detectors``: viewers read, admins write; checked on save."""

    permission_classes = [ViewerReadsAdminWrites]
    serializer_class = AnomalyDetectorSerializer
    queryset = AnomalyDetector.objects.prefetch_related("notification_channels").order_by("name")
    lookup_value_regex = "[0-9]+"

    def perform_create(self, serializer: BaseSerializer[Any]) -> None:
        serializer.instance = create_detector(
            fields=serializer.validated_data, user=self.request.user
        )

    def perform_update(self, serializer: BaseSerializer[Any]) -> None:
        assert isinstance(serializer.instance, AnomalyDetector)
        serializer.instance = update_detector(
            detector=serializer.instance,
            changes=serializer.validated_data,
            user=self.request.user,
        )

    def perform_destroy(self, instance: AnomalyDetector) -> None:
        delete_detector(detector=instance, user=self.request.user)

    @extend_schema(request=None, responses={200: ForecastSerializer})
    @action(detail=True, methods=["get"], permission_classes=[IsViewer])
    def forecast(self, request: Request, pk: str | None = None) -> Response:
        """The next 24 hours: expected value and band per 5-minute step (none while learning)."""
        detector = self.get_object()
        return Response(
            ForecastSerializer(selectors.detector_forecast(detector, now=timezone.now())).data
        )


def _flag(raw: str) -> bool:
    if raw in ("true", "1"):
        return True
    if raw in ("false", "0"):
        return False
    raise ParameterError("Expected true or false.")


def _limit(raw: str) -> int:
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw[:6]) <= SCORES_MAX_LIMIT:
        raise ParameterError(f"Expected a whole number from 1 to {SCORES_MAX_LIMIT}.")
    return int(raw)


def _detector(raw: str) -> AnomalyDetector:
    text = raw.strip()
    if text.isascii() and text.isdigit() and len(text) <= len(str(MAX_ID)):
        found = AnomalyDetector.objects.filter(pk=int(text)).first()
    else:
        found = AnomalyDetector.objects.filter(slug=text[:200]).first()
    if found is None:
        raise ParameterError("No anomaly detector has this id or slug.")
    return found


class AnomaliesView(APIView):
    """``GET /api/v1/monitoring/anomalies``: open anomalies and the scores of a period."""

    permission_classes = [IsViewer]

    @extend_schema(
        parameters=[
            OpenApiParameter("detector", str, description="A detector id or slug."),
            OpenApiParameter("since", OpenApiTypes.DATETIME, description="Default: 24 h ago."),
            OpenApiParameter("until", OpenApiTypes.DATETIME, description="Default: now."),
            OpenApiParameter("anomalous", bool, description="Only flagged (true) or not (false)."),
            OpenApiParameter(
                "limit",
                int,
                description=f"At most this many scores (default "
                f"{SCORES_LIMIT}, at most {SCORES_MAX_LIMIT}), the newest first.",
            ),
        ],
        responses={200: OpenApiTypes.OBJECT},
    )
    def get(self, request: Request) -> Response:
        detector = query_value(request, "detector", _detector)
        since = query_value(request, "since", parse_datetime) or selectors.default_since()
        until = query_value(request, "until", parse_datetime)
        if until is not None and until < since:
            raise serializers.ValidationError({"until": ["Must not be before since."]})
        anomalous = query_value(request, "anomalous", _flag)
        limit = query_value(request, "limit", _limit) or SCORES_LIMIT
        rows = selectors.scores(detector=detector, since=since, until=until, anomalous=anomalous)
        found = list(rows[: limit + 1])
        open_alerts = selectors.open_anomalies()
        if detector is not None:
            open_alerts = open_alerts.filter(detector=detector)
        return Response(
            {
                "open": AlertSerializer(open_alerts, many=True).data,
                "since": since,
                "until": until,
                "truncated": len(found) > limit,
                "scores": AnomalyScoreSerializer(found[:limit], many=True).data,
            }
        )
