"""Health figures on /metrics, read from the stored state (any web process reports the same)."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily, Metric

from health.models import Service
from health.selectors import overall_status

STATUS_VALUES = {"healthy": 0, "degraded": 1, "unhealthy": 2}


class HealthCollector:
    """Per service: up (1 up/degraded, 0 down), state, last latency; overall status, last round."""

    def describe(self) -> list[Metric]:
        return []  # registering must not query the database

    def collect(self) -> Iterator[Metric]:

        up = GaugeMetricFamily(
            "monitoring_service_up",
            "1 when the service answers (up or degraded), 0 when down; absent while unknown.",
            labels=["service", "critical"],
        )
        state = GaugeMetricFamily(
            "monitoring_service_state",
            "1 for the service's current state.",
            labels=["service", "state"],
        )
        latency = GaugeMetricFamily(
            "monitoring_service_latency_seconds",
            "Latency of the service's last check.",
            labels=["service"],
        )
        services = list(Service.objects.filter(enabled=True))
        for service in services:
            if service.state != Service.State.UNKNOWN:
                value = 0.0 if service.state == Service.State.DOWN else 1.0
                up.add_metric([service.slug, str(service.critical).lower()], value)
            state.add_metric([service.slug, service.state], 1.0)
            if service.last_latency_ms is not None:
                latency.add_metric([service.slug], service.last_latency_ms / 1000)
        yield from (up, state, latency)
        overall = overall_status(services)
        status = GaugeMetricFamily(
            "monitoring_health_status",
            "Overall platform status: 0 healthy, 1 degraded, 2 unhealthy.",
            value=STATUS_VALUES[overall.status],
        )
        yield status
        if overall.checked_at is not None:
            yield GaugeMetricFamily(
                "monitoring_health_last_round_timestamp_seconds",
                "When the last health round ran (Unix time).",
                value=overall.checked_at.timestamp(),
            )
