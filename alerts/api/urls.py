"""URLs of the alert engine: alerts (list, detail, acknowledge, resolve) and rules."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, re_path

from alerts.api import views
from monitoring_site.api.routing import Router, api_path

# The original service's form: ``alert-<id>``, or the bare id. ASCII digits only (``\d`` would
# take other scripts' digits); anything else falls through to the JSON 404.
ORIGINAL_ACK = r"^api/alerts/acknowledge/(?:alert-)?(?P<pk>[0-9]+)/?$"

router = Router()
router.register("api/v1/monitoring/alerts/rules", views.RuleViewSet, basename="alert-rule")

urlpatterns: list[URLPattern | URLResolver] = [
    api_path("api/alerts", views.AlertsOverviewView.as_view(), name="alerts-overview"),
    re_path(ORIGINAL_ACK, views.AlertAcknowledgeView.as_view(), name="alerts-acknowledge-alias"),
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
