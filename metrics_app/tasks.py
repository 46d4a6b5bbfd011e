"""Job entry points (called by monitoring_site.jobs.run_job)."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from metrics_app import forwarding, influx
from metrics_app.aggregation import aggregate_rollups, prune_fine_buckets
from metrics_app.host import sample_host


def aggregate() -> dict[str, Any]:
    """Rollups, then the InfluxDB export (whose failure never undoes the rollups)."""
    result: dict[str, Any] = {"rollups": aggregate_rollups(), "fine_pruned": prune_fine_buckets()}
    if influx.enabled():
        result["influxdb"] = influx.export_rollups()
    return result


def host_metrics() -> int:
    if not settings.METRICS_HOST_SAMPLING:
        return 0
    return sample_host()


def forward_samples() -> dict[str, Any]:
    """Send the remote write queue (woken by each ingest, and every minute as the safety net)."""
    return forwarding.forward_pending()
