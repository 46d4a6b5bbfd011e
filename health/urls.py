from __future__ import annotations

from django.urls import URLPattern, URLResolver, include, path

from health import views
from health.auth import DashboardLoginView, DashboardLogoutView
from monitoring_site.api.routing import api_path

urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.dashboard, name="dashboard"),
    api_path("health", views.HealthView.as_view(), name="health"),
    api_path("dashboard/login", DashboardLoginView.as_view(), name="dashboard-login"),
    api_path("dashboard/logout", DashboardLogoutView.as_view(), name="dashboard-logout"),
    api_path("dashboard/data", views.dashboard_data, name="dashboard-data"),
    api_path(
        "dashboard/services/<int:pk>/latency", views.dashboard_latency, name="dashboard-latency"
    ),
    path("api/v1/monitoring/", include("health.api.urls")),
]
