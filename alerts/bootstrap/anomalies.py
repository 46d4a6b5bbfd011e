"""Seed the five default anomaly detectors (each once: an admin's edits and deletions stand)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings

from alerts.anomalies.services import create_detector
from alerts.models import AnomalyDetector
from monitoring_site.bootstrap import first_time

Log = Callable[[str], None]

_SOLD = "sum(increase(tickets_sold_total[15m]))"
_FAILED = "sum(increase(payment_failure_total[15m]))"
_PAYMENTS = f"(sum(increase(payment_success_total[15m])) + {_FAILED})"

# 15-minute windows scaled to an hour: steadier than 5 minutes at night's low volumes, quicker
# than a whole hour to show a drop; ratios over an hour, where a quarter holds too few refunds.
DEFAULT_DETECTORS: tuple[dict[str, Any], ...] = (
    {
        "slug": "tickets-sold-per-hour",
        "name": "Tickets sold per hour",
        "description": "Tickets sold, as an hourly rate over the last 15 minutes.",
        "expression": f"{_SOLD} * 4",
        "seasonality": "both",
        "direction": "both",
        "severity": "warning",
    },
    {
        "slug": "revenue-per-hour",
        "name": "Revenue per hour",
        "description": "Revenue in cents, as an hourly rate over the last 15 minutes.",
        "expression": "sum(increase(revenue_total_cents[15m])) * 4",
        "seasonality": "both",
        "direction": "both",
        "severity": "warning",
    },
    {
        "slug": "payment-failure-ratio",
        "name": "Payment failure ratio",
        "description": "Failed payments against all payments over the last 15 minutes.",
        "expression": f"{_FAILED} / {_PAYMENTS}",
        "seasonality": "daily",
        "direction": "up",
        "severity": "error",
    },
    {
        "slug": "refund-ratio",
        "name": "Refund ratio",
        "description": "Refunds against tickets sold over the last hour.",
        "expression": (
            "sum(increase(refunds_processed_total[1h])) / sum(increase(tickets_sold_total[1h]))"
        ),
        "seasonality": "daily",
        "direction": "up",
        "severity": "warning",
    },
    {
        "slug": "api-p95-latency",
        "name": "API p95 latency",
        "description": "95th percentile of request duration (ms) over the last 5 minutes.",
        "expression": (
            "histogram_quantile(0.95, sum by (le) (rate(http_request_duration_ms_bucket[5m])))"
        ),
        "seasonality": "daily",
        "direction": "up",
        "severity": "warning",
    },
)


def seed(log: Log) -> None:
    """Create each default detector the first time bootstrap sees it."""
    created = []
    for spec in DEFAULT_DETECTORS:
        if not first_time(f"alerts.anomaly_detector:{spec['slug']}"):
            continue
        if AnomalyDetector.objects.filter(slug=spec["slug"]).exists():
            continue
        fields = {**spec, "timezone": settings.TIME_ZONE, "channels": ["email", "slack"]}
        create_detector(fields=fields, user=None)
        created.append(spec["slug"])
    log(f"anomaly detectors: {len(created)} created")
