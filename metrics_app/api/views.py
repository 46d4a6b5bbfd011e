"""Read endpoints for people and scripts (viewer role): business figures, series, values."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, generics, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from metrics_app.backend import MetricsBackendError
from metrics_app.catalogue import LABEL_NAME_RE
from metrics_app.models import Series
from metrics_app.selectors import (
    RESOLUTIONS,
    WINDOWS,
    business_totals,
    business_window,
    series_matching,
    series_points,
)
from monitoring_site.api.errors import Unavailable
from monitoring_site.api.params import parse_datetime, parse_id, query_value
from monitoring_site.api.schema import error_responses

MAX_POINTS = 2000


class SeriesSerializer(serializers.ModelSerializer):
    class Meta:
        model = Series
        fields = ["id", "name", "family", "labels", "kind", "value", "value_at", "updated_at"]


class BusinessMetricsView(APIView):
    """Ticket sales, revenue (cents), active listings and refunds, all-time or for a window."""

    @extend_schema(
        parameters=[OpenApiParameter("window", str, enum=list(WINDOWS), required=False)],
        responses={200: {"type": "object"}},
    )
    def get(self, request: Request) -> Response:
        window = request.query_params.get("window")
        if window is not None and window not in WINDOWS:
            raise exceptions.ValidationError({"window": [f"Use one of {', '.join(WINDOWS)}."]})
        try:
            if window is None:
                return Response(business_totals())
            return Response({**business_window(WINDOWS[window]), "window": window})
        except MetricsBackendError as exc:
            raise Unavailable(
                f"metrics backend: {exc.message}", code="metrics_backend_unavailable"
            ) from None


def _label_filters(request: Request) -> dict[str, str]:
    """``?label=service=payment&label=type=vip``."""
    labels: dict[str, str] = {}
    for item in request.query_params.getlist("label"):
        name, sep, value = item.partition("=")
        if not sep or not LABEL_NAME_RE.match(name) or "__" in name:
            raise exceptions.ValidationError({"label": [f"Expected name=value, got {item!r}."]})
        labels[name] = value
    return labels


SERIES_PARAMETERS = [
    OpenApiParameter("metric", str, required=False, description="Family or series name."),
    OpenApiParameter(
        "label",
        {
            "type": "array",
            "items": {"type": "string", "pattern": "^[a-zA-Z_][a-zA-Z0-9_]*=.*$"},
        },
        required=False,
        explode=True,
        description="name=value (repeat for several labels)",
    ),
]


@extend_schema(parameters=SERIES_PARAMETERS)
class SeriesListView(generics.ListAPIView):
    """Stored series with their cumulative values, filtered by metric and labels."""

    serializer_class = SeriesSerializer

    def get_queryset(self) -> Any:
        return series_matching(
            metric=self.request.query_params.get("metric", ""),
            labels=_label_filters(self.request),
        )


class SeriesQueryView(APIView):
    """One series' values from ``start`` to ``end`` at 1-minute, 5-minute or hourly resolution."""

    @extend_schema(
        parameters=[
            OpenApiParameter("series", int, required=False, description="Series id."),
            *SERIES_PARAMETERS,
            OpenApiParameter("start", str, required=False, description="Default: end - 1h."),
            OpenApiParameter("end", str, required=False, description="Default: now."),
            OpenApiParameter("resolution", str, enum=["auto", "1m", "5m", "1h"], required=False),
        ],
        responses={200: {"type": "object"}},
        extensions=error_responses(404),
    )
    def get(self, request: Request) -> Response:
        end = query_value(request, "end", parse_datetime) or timezone.now()
        start = query_value(request, "start", parse_datetime) or end - timedelta(hours=1)
        series = self._series(request)
        if start >= end:
            raise exceptions.ValidationError({"start": ["Must be before end."]})
        resolution = self._resolution(request, start, end)
        points = series_points(series=series, start=start, end=end, resolution=resolution)
        return Response(
            {
                "series": SeriesSerializer(series).data,
                "start": start,
                "end": end,
                "resolution": resolution,
                "points": points,
            }
        )

    def _series(self, request: Request) -> Series:
        pk = query_value(request, "series", parse_id)
        if pk is not None:
            series = Series.objects.filter(pk=pk).first()
            if series is None:
                raise exceptions.NotFound("No such series.")
            return series
        metric = request.query_params.get("metric", "")
        if not metric:
            raise exceptions.ValidationError({"series": ["Give series (an id) or metric."]})
        matches = list(series_matching(metric=metric, labels=_label_filters(request))[:2])
        if not matches:
            raise exceptions.NotFound("No series matches.")
        if len(matches) > 1:
            raise exceptions.ValidationError(
                {"label": ["Several series match; add labels or give a series id."]}
            )
        return matches[0]

    def _resolution(self, request: Request, start: datetime, end: datetime) -> int:
        raw = request.query_params.get("resolution", "auto")
        span = (end - start).total_seconds()
        if raw == "auto":
            for seconds in (60, 300, 3600):
                if span / seconds <= MAX_POINTS:
                    return seconds
            return 3600
        if raw not in RESOLUTIONS:
            raise exceptions.ValidationError({"resolution": ["Use auto, 1m, 5m or 1h."]})
        seconds = RESOLUTIONS[raw]
        if span / seconds > MAX_POINTS:
            raise exceptions.ValidationError(
                {"resolution": [f"Over {MAX_POINTS} points; choose a coarser resolution."]}
            )
        return seconds
