"""URLs of rules: ``/api/v1/monitoring/alerts/rules`` (a router: list, detail, preview), and
``rules/test`` (rule test files), routed before the router so it is never read as a rule id."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver

from alerts.api.views.rules import RuleTestView, RuleViewSet
from monitoring_site.api.routing import Router, api_path

router = Router()
router.register("api/v1/monitoring/alerts/rules", RuleViewSet, basename="alert-rule")

urlpatterns: list[URLPattern | URLResolver] = [
    api_path("api/v1/monitoring/alerts/rules/test", RuleTestView.as_view(), name="alert-rule-test"),
    *router.urls,
]
