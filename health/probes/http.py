"""HTTP probes: GET the health path, check the status and the JSON ``status`` field."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import httpx

from health.outcomes import Outcome
from health.probes.base import Probe, ProbeResult, ProbeSession, ProbeTarget, register
from monitoring_site.netguard import BlockedAddress

UP_WORDS = frozenset({"ok", "healthy", "up", "pass", "passing", "green"})
DEGRADED_WORDS = frozenset({"degraded", "warn", "warning", "yellow"})
DOWN_WORDS = frozenset({"down", "unhealthy", "error", "fail", "failing", "critical", "red"})


class FetchError(Exception):
    """A request that did not produce a usable response; the message is readable."""


@dataclass
class Fetched:
    status_code: int
    content_type: str
    body: bytes


async def fetch(
    session: ProbeSession, method: str, url: str, *, timeout: float, payload: Any = None
) -> Fetched:
    """One request with a bounded body read: the body may not exceed ``max_body_bytes``."""
    headers = {"Accept": "application/json", "Accept-Encoding": "identity"}
    try:
        async with session.http.stream(
            method, url, json=payload, headers=headers, timeout=timeout
        ) as response:
            body = await _read_bounded(response, session.max_body_bytes)
            return Fetched(response.status_code, response.headers.get("content-type", ""), body)
    except httpx.HTTPError as exc:
        raise FetchError(describe_http_error(exc)) from None
    except BlockedAddress as exc:
        raise FetchError(str(exc)) from None
    except OSError as exc:
        raise FetchError(f"connection failed: {exc.strerror or exc}") from None


async def _read_bounded(response: httpx.Response, limit: int) -> bytes:
    # Raw bytes (we ask for identity encoding): a compressed bomb cannot expand in memory.
    declared = response.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > limit:
        raise FetchError(f"response body of {int(declared)} bytes is larger than {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_raw():
        size += len(chunk)
        if size > limit:
            raise FetchError(f"response body is larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def describe_http_error(exc: httpx.HTTPError) -> str:
    text = str(exc) or type(exc).__name__
    if isinstance(exc, httpx.TooManyRedirects):
        return "too many redirects (a redirect loop?)"
    if isinstance(exc, httpx.TimeoutException):
        return f"timed out ({type(exc).__name__})"
    if isinstance(exc, httpx.ConnectError):
        if "SSL" in text or "CERTIFICATE" in text.upper() or "TLS" in text:
            return f"TLS error: {text}"
        return f"connection failed: {text}"
    if isinstance(exc, httpx.RemoteProtocolError | httpx.DecodingError):
        return f"invalid HTTP response: {text}"
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
        return f"invalid URL: {text}"
    return f"{type(exc).__name__}: {text}"


def health_url(base: str, path: str) -> str:
    if not path:
        return base
    return base.rstrip("/") + "/" + path.lstrip("/")


def _parse_json(fetched: Fetched) -> tuple[Any, str]:
    """(document or None, problem); a problem only when the body claims to be JSON and is not."""
    declared = "json" in fetched.content_type.lower()
    text = fetched.body.strip()
    if not text:
        return None, "empty JSON body" if declared else ""
    try:
        return json.loads(text), ""
    except (ValueError, UnicodeDecodeError):
        if declared:
            return None, "response is not valid JSON"
    try:
        text.decode("utf-8")
    except UnicodeDecodeError:
        return None, "response body is not text"
    return None, ""


def judge_body(document: Any) -> tuple[str, str]:
    """The outcome the service reports about itself in its JSON ``status`` field."""
    if not isinstance(document, dict) or "status" not in document:
        return Outcome.UP, ""
    word = str(document["status"]).strip().lower()
    if word in UP_WORDS:
        return Outcome.UP, ""
    if word in DEGRADED_WORDS:
        return Outcome.DEGRADED, f"service reports status {word!r}"
    if word in DOWN_WORDS:
        return Outcome.DOWN, f"service reports status {word!r}"
    return Outcome.DEGRADED, f"service reports an unrecognised status {word[:40]!r}"


@register
class HttpProbe(Probe):
    """GET <target><health_path>; expected status, then the JSON status field if any."""

    kind = "http"
    schemes = ("http", "https")
    target_help = "an http(s) URL"

    async def check(self, target: ProbeTarget, session: ProbeSession) -> ProbeResult:
        started = time.perf_counter()
        url = health_url(target.target, target.health_path)
        try:
            fetched = await fetch(session, "GET", url, timeout=target.timeout)
        except FetchError as exc:
            return ProbeResult.down(str(exc), latency_ms=_ms(started))
        latency = _ms(started)
        if fetched.status_code != target.expected_status:
            return ProbeResult.down(
                f"HTTP {fetched.status_code} (expected {target.expected_status})",
                latency_ms=latency,
                status_code=fetched.status_code,
            )
        document, problem = _parse_json(fetched)
        if problem:
            return ProbeResult.down(problem, latency_ms=latency, status_code=fetched.status_code)
        outcome, reason = judge_body(document)
        details = {"status": str(document["status"])[:40]} if reason else {}
        return ProbeResult(
            outcome,
            latency_ms=latency,
            status_code=fetched.status_code,
            error=reason,
            details=details,
        )


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)
