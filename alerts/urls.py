from __future__ import annotations

from django.urls import include, path

# The rule language's endpoints (validate, query) and the engine's (rules, alerts) live apart.
urlpatterns = [
    path("", include("alerts.api.urls_language")),
    path("", include("alerts.api.urls")),
    path("", include("alerts.api.urls_notifications")),
    path("", include("alerts.api.urls_silences")),
]
