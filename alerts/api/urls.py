"""URLs of the alert engine: alerts (list, detail, acknowledge, resolve) and rules."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver

from alerts.api import views
from monitoring_site.api.routing import Router, api_path

router = Router()
router.register("api/v1/monitoring/alerts/rules", views.RuleViewSet, basename="alert-rule")

urlpatterns: list[URLPattern | URLResolver] = [
    api_path("api/alerts", views.AlertsOverviewView.as_view(), name="alerts-overview"),
    api_path(
        "api/alerts/acknowledge/<int:pk>",
        views.AlertAcknowledgeView.as_view(),
        name="alerts-acknowledge-alias",
    ),
    api_path("api/v1/monitoring/alerts", views.AlertListView.as_view(), name="alert-list"),
    api_path(
        "api/v1/monitoring/alerts/<int:pk>", views.AlertDetailView.as_view(), name="alert-detail"
    ),
    api_path(
        "api/v1/monitoring/alerts/<int:pk>/acknowledge",
        views.AlertAcknowledgeView.as_view(),
        name="alert-acknowledge",
    ),
    api_path(
        "api/v1/monitoring/alerts/<int:pk>/resolve",
        views.AlertResolveView.as_view(),
        name="alert-resolve",
    ),
    *router.urls,
]
