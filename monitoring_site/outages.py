"""How an outside integration being down is reported: a counter, and one log line per outage.

The Elasticsearch shipper, the OTLP exporter and the dead-man's switch each hold one
:class:`IntegrationHealth`. A failure counts (per process, and in the shared cache, which with
Redis every process reads, so ``/metrics`` shows the cluster's figure); only the first failure of
an outage is logged, and so is the recovery, with the outage's length. Events are never logged
one by one while the integration is down.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator

from django.core.cache import cache
from prometheus_client.core import CounterMetricFamily, Metric

logger = logging.getLogger(__name__)

CACHE_KEY = "monitoring:integration:{name}:{what}"
INTEGRATIONS = ("deadmans_switch", "elasticsearch", "otlp")


def add_shared(name: str, what: str, count: int) -> None:
    """Add ``count`` to a cluster-wide counter in the cache; a cache that fails loses it."""
    if count <= 0:
        return
    key = CACHE_KEY.format(name=name, what=what)
    try:
        cache.add(key, 0, timeout=None)
        cache.incr(key, count)
    except Exception as exc:  # the cache (Redis) down: the process counter still has it
        logger.debug("shared counter %s not updated: %s", key, type(exc).__name__)


def read_shared(name: str, what: str) -> int:
    try:
        return int(cache.get(CACHE_KEY.format(name=name, what=what)) or 0)
    except Exception:
        return 0


class IntegrationHealth:
    """Failures of one integration: counted always, logged once when an outage starts and ends."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.failures = 0
        self.down_since: float | None = None
        self._lock = threading.Lock()

    @property
    def is_down(self) -> bool:
        return self.down_since is not None

    def failed(self, error: str, *, count: int = 1) -> None:
        with self._lock:
            self.failures += count
            starting = self.down_since is None
            if starting:
                self.down_since = time.monotonic()
        add_shared(self.name, "failures", count)
        if starting:
            logger.warning(
                "%s unreachable: %s (logged once until it recovers)",
                self.name,
                error,
                extra={"integration": self.name},
            )

    def succeeded(self) -> None:
        with self._lock:
            since, self.down_since = self.down_since, None
        if since is not None:
            logger.warning(
                "%s reachable again after %.0f s",
                self.name,
                time.monotonic() - since,
                extra={"integration": self.name},
            )


class IntegrationCollector:
    """/metrics: failures of each outside integration, and log events dropped while shipping."""

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        failures = CounterMetricFamily(
            "monitoring_integration_failures",
            "Failed calls to an outside integration (Elasticsearch, OTLP, dead-man's switch).",
            labels=["integration"],
        )
        for name in INTEGRATIONS:
            failures.add_metric([name], read_shared(name, "failures"))
        yield failures
        dropped = CounterMetricFamily(
            "monitoring_log_shipping_dropped",
            "Log events dropped because the shipping queue was full (Elasticsearch down).",
        )
        dropped.add_metric([], read_shared("elasticsearch", "dropped"))
        yield dropped
