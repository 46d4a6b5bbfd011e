"""The site's URLs as demo mode mounts them (DEMO_MODE is read once, when the URLconf loads)."""

from __future__ import annotations

from django.urls import include, path

from monitoring_site.urls import urlpatterns as site

urlpatterns = [*site, path("", include("demo.urls"))]
