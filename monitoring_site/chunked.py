"""WSGI: a request body sent in chunks (no Content-Length) is read, or refused; never dropped.

Django sizes ``request.body`` by ``CONTENT_LENGTH`` and reads nothing without it, so under
gunicorn a ``Transfer-Encoding: chunked`` request reached the views as an empty body (ingest
answered "Malformed JSON", the token endpoint "field required"). gunicorn decodes the chunks and
marks the stream ``wsgi.input_terminated`` (readable to its end); this reads it, up to the size
limit, and hands Django a body of known length. A server that cannot say where the body ends gets
411, a body over the limit 413, both in the API's JSON error shape.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings

from monitoring_site.api.errors import error_body

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


def body_limit() -> int:
    """The largest body any endpoint reads (ingest may allow more than the default)."""
    return max(settings.DATA_UPLOAD_MAX_MEMORY_SIZE, settings.METRICS_INGEST_MAX_BYTES)


class ChunkedBodyMiddleware:
    """Wraps the WSGI application (``monitoring_site/wsgi.py``)."""

    def __init__(self, app: WSGIApp) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        if not chunked or environ.get("CONTENT_LENGTH"):
            return self.app(environ, start_response)
        if not environ.get("wsgi.input_terminated"):
            return _refuse(
                start_response,
                411,
                "Send a Content-Length (this server cannot read a chunked body).",
            )
        limit = body_limit()
        body = environ["wsgi.input"].read(limit + 1)
        if len(body) > limit:
            return _refuse(start_response, 413, f"The request body is larger than {limit} bytes.")
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        return self.app(environ, start_response)


def _refuse(start_response: StartResponse, status: int, message: str) -> list[bytes]:
    reason = {411: "Length Required", 413: "Request Entity Too Large"}[status]
    payload = json.dumps(error_body(status, message)).encode()
    headers = [
        ("Content-Type", "application/json"),
        ("Content-Length", str(len(payload))),
        ("Connection", "close"),  # the rest of the body is not read
    ]
    start_response(f"{status} {reason}", headers)
    return [payload]
