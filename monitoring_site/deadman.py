"""The dead-man's switch: a ping to an outside heartbeat check after every evaluation cycle.

The monitor's own alerts cannot fire when its workers are dead, so something outside must notice
the silence: when ``DEADMANS_SWITCH_URL`` is set, the job wrapper pings it after every successful
run of a job declared with ``heartbeat=True`` (the evaluation job). A Healthchecks.io check, for
example, pages when the pings stop. The ping runs under one overall deadline
(``DEADMANS_SWITCH_TIMEOUT``): a check that hangs or drips its answer never holds the job longer.
"""

from __future__ import annotations

import asyncio
import logging
from urllib.parse import urlparse

import httpx
from django.conf import settings

from monitoring_site.outages import IntegrationHealth

logger = logging.getLogger(__name__)

HEALTH = IntegrationHealth("deadmans_switch")


def ping(*, job: str) -> bool:
    """GET the switch's URL; True when it answered 2xx. Failures are counted, logged once."""
    url = settings.DEADMANS_SWITCH_URL
    if not url:
        return False
    try:
        status = asyncio.run(_get(url, timeout=settings.DEADMANS_SWITCH_TIMEOUT))
    except (httpx.HTTPError, TimeoutError, OSError) as exc:
        HEALTH.failed(f"{urlparse(url).hostname}: {type(exc).__name__}")
        return False
    if not 200 <= status < 300:
        HEALTH.failed(f"{urlparse(url).hostname}: HTTP {status}")
        return False
    HEALTH.succeeded()
    logger.debug("dead-man's switch pinged", extra={"job": job})
    return True


async def _get(url: str, *, timeout: float) -> int:
    # asyncio.timeout bounds the whole exchange; httpx's own timeout bounds each read only.
    async with asyncio.timeout(timeout):
        async with httpx.AsyncClient(timeout=timeout, follow_redirects=True) as client:
            response = await client.get(url, headers={"User-Agent": "tickettoken-monitoring"})
            return response.status_code
