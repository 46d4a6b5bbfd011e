"""One request with requests, its failures sorted into transient and permanent ``ChannelError``s."""

from __future__ import annotations

import threading

import requests
from django.conf import settings

from alerts.channels.base import (
    ChannelError,
    classify_http_status,
    http_timeout,
    retry_after_seconds,
)
from monitoring_site.netguard import BlockedAddress, guarded_session

_local = threading.local()


def _session(guarded: bool) -> requests.Session:
    """A per-thread session (connections are reused); rebuilt when the guard's settings change."""
    key = (
        guarded,
        settings.WEBHOOK_ALLOW_PRIVATE,
        tuple(str(n) for n in getattr(settings, "WEBHOOK_ALLOWED_NETWORKS", ())),
    )
    cached = getattr(_local, "sessions", {})
    if key not in cached:
        for old in cached.values():
            old.close()
        session = guarded_session() if guarded else requests.Session()
        cached = {key: session}
        _local.sessions = cached
    return cached[key]


def post(
    url: str,
    *,
    body: bytes,
    headers: dict[str, str],
    guarded: bool,
    follow_redirects: bool,
) -> requests.Response:
    """POST ``body``; a 2xx answer is returned, anything else raises ``ChannelError``."""
    return call(
        "POST", url, body=body, headers=headers, guarded=guarded, follow_redirects=follow_redirects
    )


def call(
    method: str,
    url: str,
    *,
    headers: dict[str, str],
    guarded: bool,
    follow_redirects: bool,
    body: bytes | None = None,
    params: dict[str, str | list[str]] | None = None,
) -> requests.Response:
    """One request; a 2xx answer is returned, anything else raises ``ChannelError``."""
    try:
        response = _session(guarded).request(
            method,
            url,
            data=body,
            params=params,
            headers=headers,
            timeout=http_timeout(),
            allow_redirects=follow_redirects,
        )
    except BlockedAddress as exc:
        raise ChannelError(str(exc), permanent=True) from exc
    except requests.TooManyRedirects as exc:
        raise ChannelError("too many redirects", permanent=True) from exc
    except (requests.Timeout, requests.ConnectionError) as exc:
        raise ChannelError(f"unreachable: {_describe(exc)}", permanent=False) from exc
    except requests.RequestException as exc:
        raise ChannelError(f"request failed: {_describe(exc)}", permanent=True) from exc
    if 200 <= response.status_code < 300:
        return response
    retry_after = retry_after_seconds(response.headers.get("Retry-After"))
    raise classify_http_status(response.status_code, _snippet(response), retry_after)


def _snippet(response: requests.Response) -> str:
    return " ".join(response.text[:300].split())


def _describe(exc: BaseException) -> str:
    # requests' messages quote the URL, whose path may hold a token: name the error kinds only.
    inner: BaseException = exc
    for _ in range(10):
        if inner.__context__ is None:
            break
        inner = inner.__context__
    name = type(exc).__name__
    return name if inner is exc else f"{name} ({type(inner).__name__})"
