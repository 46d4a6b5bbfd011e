from __future__ import annotations

import logging
import time

import psutil
from django.apps import AppConfig

# Measured when Django starts, on the monotonic clock: immune to wall-clock changes.
STARTED_MONOTONIC = time.monotonic() - max(0.0, time.time() - psutil.Process().create_time())


def process_uptime() -> float:
    """Seconds this monitor process has been running."""
    return round(time.monotonic() - STARTED_MONOTONIC, 1)


class HealthConfig(AppConfig):
    name = "health"
    verbose_name = "Health"
    operator_permissions: tuple[str, ...] = ()

    def ready(self) -> None:
        # httpx logs every request at INFO: dozens of lines a minute from the rounds alone.
        httpx_logger = logging.getLogger("httpx")
        if httpx_logger.level == logging.NOTSET:
            httpx_logger.setLevel(logging.WARNING)
        # Imported here: the collector reads models, loaded once the registry is ready.
        from health.collectors import HealthCollector
        from metrics_app.exposition import register_collector

        register_collector(HealthCollector())
        # A web process that meets the monitor's Redis down records it (no round runs then).
        from health.services import record_redis_observation
        from monitoring_site.cache import on_redis_change

        on_redis_change(record_redis_observation)
