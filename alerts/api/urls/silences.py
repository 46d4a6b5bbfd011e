"""URLs of silences and maintenance windows (with or without a trailing slash)."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver

from alerts.api.views import silences as views
from monitoring_site.api.routing import api_path

SILENCES = "api/v1/monitoring/silences"
WINDOWS = "api/v1/monitoring/maintenance-windows"

urlpatterns: list[URLPattern | URLResolver] = [
    api_path(SILENCES, views.SilenceListView.as_view(), name="silence-list"),
    api_path(f"{SILENCES}/<int:pk>", views.SilenceDetailView.as_view(), name="silence-detail"),
    api_path(
        f"{SILENCES}/<int:pk>/expire", views.SilenceExpireView.as_view(), name="silence-expire"
    ),
    api_path(WINDOWS, views.MaintenanceWindowListView.as_view(), name="maintenance-window-list"),
    api_path(
        f"{WINDOWS}/<int:pk>",
        views.MaintenanceWindowDetailView.as_view(),
        name="maintenance-window-detail",
    ),
    api_path(
        f"{WINDOWS}/<int:pk>/expire",
        views.MaintenanceWindowExpireView.as_view(),
        name="maintenance-window-expire",
    ),
]
