"""URLs of anomaly detection: ``/api/v1/monitoring/anomalies`` and its detectors (a router)."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver

from alerts.api.views.anomalies import AnomaliesView, AnomalyDetectorViewSet
from monitoring_site.api.routing import Router, api_path

router = Router()
router.register(
    "api/v1/monitoring/anomalies/detectors", AnomalyDetectorViewSet, basename="anomaly-detector"
)

urlpatterns: list[URLPattern | URLResolver] = [
    api_path("api/v1/monitoring/anomalies", AnomaliesView.as_view(), name="anomalies"),
    *router.urls,
]
