from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from monitoring_site.api.auth import LogoutAllView, TokenObtainView, TokenRefreshRotatingView
from monitoring_site.api.routing import api_path
from monitoring_site.api.views import JobRunDetailView, JobRunListView, MeView, WorkersView
from monitoring_site.views import status_view

urlpatterns = [
    api_path("status", status_view, name="status"),
    api_path("api/auth/token", TokenObtainView.as_view(), name="token-obtain"),
    api_path("api/auth/token/refresh", TokenRefreshRotatingView.as_view(), name="token-refresh"),
    api_path("api/auth/logout-all", LogoutAllView.as_view(), name="auth-logout-all"),
    api_path("api/auth/me", MeView.as_view(), name="auth-me"),
    api_path("api/v1/monitoring/jobs/runs", JobRunListView.as_view(), name="job-run-list"),
    api_path(
        "api/v1/monitoring/jobs/runs/<int:pk>", JobRunDetailView.as_view(), name="job-run-detail"
    ),
    api_path("api/v1/monitoring/workers", WorkersView.as_view(), name="workers"),
    api_path("api/schema", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves its init script from /api/docs/?script: no inline script (CSP).
    api_path(
        "api/docs",
        SpectacularSwaggerSplitView.as_view(url_name="schema", template_name="api/swagger_ui.html"),
        name="api-docs",
    ),
    path("admin/", admin.site.urls),
    path("", include("metrics_app.urls")),
    path("", include("health.urls")),
    path("", include("alerts.urls")),
    path("", include("reports.urls")),
]
if settings.DEMO_MODE:  # `make demo` only: the inbox of its local receivers (docs/demo.md)
    urlpatterns.append(path("", include("demo.urls")))

handler400 = "monitoring_site.views.handler400"
handler403 = "monitoring_site.views.handler403"
handler404 = "monitoring_site.views.handler404"
handler500 = "monitoring_site.views.handler500"
