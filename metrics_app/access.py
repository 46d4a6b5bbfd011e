"""Who may scrape /metrics: PROMETHEUS_IPS, METRICS_TOKEN, METRICS_PUBLIC; loopback by default."""

from __future__ import annotations

import hmac
import ipaddress
from typing import Any

from django.conf import settings

from monitoring_site.net import client_ip


def _address(raw: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        address = ipaddress.ip_address(raw.strip().strip("[]"))
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def _bearer(request: Any) -> str | None:
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def refusal(request: Any) -> str | None:
    """None when the request may read /metrics, otherwise a short reason for the 403.

    An address in ``PROMETHEUS_IPS`` or the right ``METRICS_TOKEN`` is enough (either one); with
    neither configured only loopback may scrape.
    """
    if settings.METRICS_PUBLIC:
        return None
    token = settings.METRICS_TOKEN
    networks = settings.PROMETHEUS_IPS
    given = _bearer(request)
    if token and given is not None and hmac.compare_digest(given.encode(), token.encode()):
        return None
    address = _address(client_ip(request))
    if networks and address is not None and any(address in net for net in networks):
        return None
    if not networks and not token:
        if address is not None and address.is_loopback:
            return None
        return "metrics: only loopback may scrape (see PROMETHEUS_IPS, METRICS_TOKEN)"
    if token and given is not None:
        return "metrics: wrong bearer token"
    if networks and token:
        return f"metrics: address {address or 'unknown'} is not allowed and no token was given"
    if networks:
        return f"metrics: address {address or 'unknown'} is not in PROMETHEUS_IPS"
    return "metrics: a bearer token is required"
