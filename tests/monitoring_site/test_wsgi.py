"""The WSGI wrapper around Django: chunked bodies a server cannot delimit are refused with 411."""

from __future__ import annotations

import io
import json
from typing import Any

from monitoring_site.chunked import ChunkedBodyMiddleware


def call(environ: dict[str, Any]) -> tuple[str, dict[str, Any], list[dict[str, Any]]]:
    reached: list[dict[str, Any]] = []
    started: dict[str, Any] = {}

    def app(env: dict[str, Any], start_response: Any) -> list[bytes]:
        reached.append(env)
        start_response("200 OK", [])
        return [b"{}"]

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        started.update(status=status, headers=dict(headers))

    body = b"".join(ChunkedBodyMiddleware(app)(environ, start_response))
    return started["status"], json.loads(body), reached


def test_a_chunked_body_without_an_end_marker_is_refused_with_411(settings: Any) -> None:
    status, body, reached = call(
        {"HTTP_TRANSFER_ENCODING": "chunked", "wsgi.input": io.BytesIO(b'{"a": 1}')}
    )
    assert status == "411 Length Required"
    assert body == {
        "status": 411,
        "code": "length_required",
        "message": "Send a Content-Length (this server cannot read a chunked body).",
    }
    assert reached == []


def test_a_terminated_chunked_body_reaches_django_with_its_length(settings: Any) -> None:
    environ = {
        "HTTP_TRANSFER_ENCODING": "chunked",
        "wsgi.input": io.BytesIO(b'{"a": 1}'),
        "wsgi.input_terminated": True,
    }
    status, _, reached = call(environ)
    assert status == "200 OK"
    assert reached[0]["CONTENT_LENGTH"] == "8"
    assert reached[0]["wsgi.input"].read() == b'{"a": 1}'


def test_a_body_with_a_content_length_passes_untouched(settings: Any) -> None:
    stream = io.BytesIO(b"abc")
    _, _, reached = call({"CONTENT_LENGTH": "3", "wsgi.input": stream})
    assert reached[0]["wsgi.input"] is stream
