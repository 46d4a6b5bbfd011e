"""Every URL of the alerts app's API, one module per sub-domain.

The rule language's (``rules/validate``) come before the rules router's so that they are never
read as a rule id.
"""

from __future__ import annotations

from django.urls import URLPattern, URLResolver

from alerts.api.urls import (
    alerts,
    anomalies,
    intake,
    language,
    notifications,
    rules,
    silences,
)

urlpatterns: list[URLPattern | URLResolver] = [
    *language.urlpatterns,
    *alerts.urlpatterns,
    *rules.urlpatterns,
    *notifications.urlpatterns,
    *silences.urlpatterns,
    *anomalies.urlpatterns,
    *intake.urlpatterns,
]
