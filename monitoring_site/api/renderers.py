"""JSON responses that can always be sent, whatever text a client made them echo."""

from __future__ import annotations

from typing import Any

from rest_framework import renderers


class JSONRenderer(renderers.JSONRenderer):
    """DRF's renderer; a body holding a lone surrogate is sent \\u-escaped instead of a 500.

    Error messages quote what the client sent (``labels.<name>: not allowed``); a lone surrogate
    there cannot be encoded as UTF-8, but JSON's ``\\udXXX`` escape can carry it.
    """

    def render(
        self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None
    ) -> bytes:
        try:
            return super().render(data, accepted_media_type, renderer_context)
        except UnicodeEncodeError:
            return _EscapingJSONRenderer().render(data, accepted_media_type, renderer_context)


class _EscapingJSONRenderer(renderers.JSONRenderer):
    ensure_ascii = True
