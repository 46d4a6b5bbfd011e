"""URLs of alerts: list, detail, acknowledge, resolve, and the original service's overview.

Two families of alert URLs live here, on purpose:

- ``/api/v1/monitoring/alerts...`` is this service's own API (list with filters, detail,
  ``<id>/acknowledge``, ``<id>/resolve``), documented in docs/api.md;
- ``/api/alerts`` (overview) and ``/api/alerts/acknowledge/<id>`` keep the URLs of the service
  this one replaced, so its clients (scripts, chat bots) keep working unchanged. They call the
  same views and services as the first family; nothing is answered differently.
"""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, re_path

from alerts.api.views import alerts as views
from monitoring_site.api.routing import api_path

# The original service's form: ``alert-<id>``, or the bare id. ASCII digits only (``\d`` would
# take other scripts' digits); anything else falls through to the JSON 404.
ORIGINAL_ACK = r"^api/alerts/acknowledge/(?:alert-)?(?P<pk>[0-9]+)/?$"

urlpatterns: list[URLPattern | URLResolver] = [
    # The original service's URLs (see the module docstring).
    api_path("api/alerts", views.AlertsOverviewView.as_view(), name="alerts-overview"),
    re_path(ORIGINAL_ACK, views.AlertAcknowledgeView.as_view(), name="alerts-acknowledge-alias"),
    # This service's own API.
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
]
