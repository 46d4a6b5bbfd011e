"""API paths answer with or without a trailing slash, and never redirect."""

from __future__ import annotations

import re
from typing import Any

from django.urls import URLPattern, re_path
from django.urls.converters import get_converters
from rest_framework.routers import DefaultRouter, SimpleRouter

_PARAMETER = re.compile(r"<(?:(?P<converter>[^>:]+):)?(?P<name>\w+)>")
# Only what regex syntax needs (unlike re.escape, "-" stays readable in the OpenAPI paths).
_SPECIAL = re.compile(r"([.^$*+?{}\[\]\\|()])")


def api_path(route: str, view: Any, name: str | None = None) -> URLPattern:
    """``api_path("things/<int:pk>", view)`` matches ``things/7`` and ``things/7/``.

    Parameters use Django's converters (``int``, ``str``, ``slug``, ``uuid``, ``path``); the view
    receives them as strings. An unknown converter is an error at import, not a dead route.
    """
    return re_path(rf"^{_route_regex(route.strip('/'))}/?$", view, name=name)


def _route_regex(route: str) -> str:
    converters = get_converters()
    parts: list[str] = []
    position = 0
    for match in _PARAMETER.finditer(route):
        converter = match["converter"] or "str"
        if converter not in converters:
            raise ValueError(f"api_path({route!r}): unknown path converter {converter!r}")
        parts.append(_SPECIAL.sub(r"\\\1", route[position : match.start()]))
        parts.append(f"(?P<{match['name']}>{converters[converter].regex})")
        position = match.end()
    parts.append(_SPECIAL.sub(r"\\\1", route[position:]))
    return "".join(parts)


class Router(SimpleRouter):
    """A router whose routes accept an optional trailing slash."""

    def __init__(self) -> None:
        super().__init__()
        # DRF reduces any truthy ``trailing_slash`` argument to "/", so set the pattern itself.
        self.trailing_slash = "/?"


__all__ = ["DefaultRouter", "Router", "api_path"]
