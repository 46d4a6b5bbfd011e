"""The client address, trusting X-Forwarded-For only as far as TRUSTED_PROXIES says."""

from __future__ import annotations

from typing import Any

from django.conf import settings


def client_ip(request: Any) -> str:
    """``REMOTE_ADDR``, or the address ``TRUSTED_PROXIES`` hops back in ``X-Forwarded-For``.

    With N trusted proxies in front, the last N entries of the header were appended by them, so the
    client is the N-th from the right; anything further left was written by the client itself.
    """
    meta = request.META
    remote = meta.get("REMOTE_ADDR", "") or ""
    hops = settings.TRUSTED_PROXIES
    forwarded = meta.get("HTTP_X_FORWARDED_FOR", "")
    if hops <= 0 or not forwarded:
        return remote
    addresses = [part.strip() for part in forwarded.split(",") if part.strip()]
    if not addresses:
        return remote
    return addresses[-min(hops, len(addresses))]
