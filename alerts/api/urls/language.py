from __future__ import annotations

from django.urls import URLPattern, URLResolver

from alerts.api.views.language import QueryView, ValidateView
from monitoring_site.api.routing import api_path

urlpatterns: list[URLPattern | URLResolver] = [
    api_path(
        "api/v1/monitoring/alerts/rules/validate",
        ValidateView.as_view(),
        name="alert-rule-validate",
    ),
    api_path("api/v1/monitoring/query", QueryView.as_view(), name="monitoring-query"),
]
