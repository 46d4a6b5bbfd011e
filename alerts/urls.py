"""The alerts app's URLs: its API (``alerts.api.urls``, one module per sub-domain)."""

from __future__ import annotations

from alerts.api.urls import urlpatterns

__all__ = ["urlpatterns"]
