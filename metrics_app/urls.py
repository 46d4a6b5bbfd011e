from __future__ import annotations

from django.urls import URLPattern, URLResolver

from metrics_app.api.ingest import IngestView
from metrics_app.api.views import BusinessMetricsView, SeriesListView, SeriesQueryView
from metrics_app.views import metrics_view
from monitoring_site.api.routing import api_path

urlpatterns: list[URLPattern | URLResolver] = [
    api_path("metrics", metrics_view, name="metrics"),
    api_path("api/v1/metrics/ingest", IngestView.as_view(), name="metrics-ingest"),
    api_path("api/v1/metrics/series", SeriesListView.as_view(), name="metrics-series"),
    api_path("api/v1/metrics/query", SeriesQueryView.as_view(), name="metrics-query"),
    api_path("api/business-metrics", BusinessMetricsView.as_view(), name="business-metrics"),
]
