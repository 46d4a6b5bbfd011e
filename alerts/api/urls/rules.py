"""URLs of rules: ``/api/v1/monitoring/alerts/rules`` (a router: list, detail, preview)."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver

from alerts.api.views.rules import RuleViewSet
from monitoring_site.api.routing import Router

router = Router()
router.register("api/v1/monitoring/alerts/rules", RuleViewSet, basename="alert-rule")

urlpatterns: list[URLPattern | URLResolver] = [*router.urls]
