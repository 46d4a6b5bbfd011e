"""The Alertmanager-compatible intake: Prometheus and vmalert post to ``<base>/api/v2/alerts``."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver

from alerts.api.views import intake as views
from monitoring_site.api.routing import api_path

urlpatterns: list[URLPattern | URLResolver] = [
    api_path("api/v2/alerts", views.AlertmanagerAlertsView.as_view(), name="alertmanager-alerts"),
]
