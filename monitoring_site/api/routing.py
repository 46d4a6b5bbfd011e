"""API paths answer with or without a trailing slash, and never redirect."""

from __future__ import annotations

from typing import Any

from django.urls import URLPattern, re_path
from rest_framework.routers import DefaultRouter, SimpleRouter


def api_path(route: str, view: Any, name: str | None = None) -> URLPattern:
    """``api_path("status", view)`` matches ``status`` and ``status/``; ``<int:pk>`` works too."""
    regex = route.strip("/")
    regex = regex.replace("<int:pk>", r"(?P<pk>[0-9]+)").replace("<str:name>", r"(?P<name>[^/]+)")
    return re_path(rf"^{regex}/?$", view, name=name)


class Router(SimpleRouter):
    """A router whose routes accept an optional trailing slash."""

    def __init__(self) -> None:
        super().__init__()
        # DRF reduces any truthy ``trailing_slash`` argument to "/", so set the pattern itself.
        self.trailing_slash = "/?"


__all__ = ["DefaultRouter", "Router", "api_path"]
