"""The alerts app's URLs: its pages (``alerts.pages``) and its API (``alerts.api.urls``)."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver

from alerts.api.urls import urlpatterns as api_urlpatterns
from alerts.pages.urls import urlpatterns as page_urlpatterns

urlpatterns: list[URLPattern | URLResolver] = [*page_urlpatterns, *api_urlpatterns]
