from __future__ import annotations

from django.urls import include, path

from health.api.views import HealthCheckView, HealthDetailedView, ServiceViewSet
from monitoring_site.api.routing import Router, api_path

router = Router()
router.register("services", ServiceViewSet, basename="service")

urlpatterns = [
    api_path("health/detailed", HealthDetailedView.as_view(), name="health-detailed"),
    api_path("health/check", HealthCheckView.as_view(), name="health-check"),
    path("", include(router.urls)),
]
