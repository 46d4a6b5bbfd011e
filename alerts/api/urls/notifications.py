"""URLs of notification delivery: the test-alert endpoint and the acknowledge link's page."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from alerts.api.views.notifications import SyntheticAlertView
from alerts.notifications.views import AckLinkView
from monitoring_site.api.routing import api_path

urlpatterns: list[URLPattern | URLResolver] = [
    api_path("api/alerts/test", SyntheticAlertView.as_view(), name="alerts-test"),
    path("alerts/ack/<str:token>/", AckLinkView.as_view(), name="alert-ack-link"),
]
