"""Seed the 8 default rules and the built-in ``service_down`` rule (never overwriting edits)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db.models import Q

from alerts.anomalies.services import ANOMALY_RULE_SPEC
from alerts.health_alerts import SERVICE_DOWN
from alerts.intake.services import EXTERNAL_RULE
from alerts.models import Rule
from alerts.rules.services import create_rule
from alerts.sources.self_check import SELF_CHECK_RULE

Log = Callable[[str], None]
MINUTE = 60

_REFUNDS = "sum(increase(refunds_processed_total[1h]))"
_SOLD = "sum(increase(tickets_sold_total[1h]))"
_FAILED = "sum(increase(payment_failure_total[15m]))"
_PAYMENTS = f"(sum(increase(payment_success_total[15m])) + {_FAILED})"
_ERRORS = "sum(increase(errors_total[5m]))"
_REQUESTS = "sum(increase(http_request_duration_ms_count[5m]))"
_SOLANA_FAILED = 'sum(increase(solana_transaction_time_ms_count{status="failed"}[10m]))'
_SOLANA_ALL = "sum(increase(solana_transaction_time_ms_count[10m]))"
_REVENUE = "sum(increase(revenue_total_cents[1h]))"
_REVENUE_WEEK_AGO = "sum(increase(revenue_total_cents[1h] offset 1w))"

DEFAULT_RULES: tuple[dict[str, Any], ...] = (
    {
        "slug": "high-refund-rate",
        "name": "High Refund Rate",
        "description": "Refunds against tickets sold in the last hour, in percent.",
        "expression": f"{_REFUNDS} / {_SOLD} * 100",
        "operator": ">",
        "threshold": 10,
        "severity": "warning",
        "channels": ["email", "slack"],
        "min_volume_expression": _SOLD,
        "min_volume": 20,
        "for_seconds": 5 * MINUTE,
        "cooldown_seconds": 60 * MINUTE,
        "summary": "Refund rate {value}% over the last hour (threshold {threshold}%)",
    },
    {
        "slug": "payment-failure-spike",
        "name": "Payment Failure Spike",
        "description": "Failed payments against all payments in the last 15 minutes, in percent.",
        "expression": f"{_FAILED} / {_PAYMENTS} * 100",
        "operator": ">",
        "threshold": 20,
        "severity": "error",
        "channels": ["email", "slack", "pagerduty"],
        "min_volume_expression": _PAYMENTS,
        "min_volume": 20,
        "for_seconds": 2 * MINUTE,
        "cooldown_seconds": 30 * MINUTE,
        "summary": "{value}% of payments failed in 15 minutes (threshold {threshold}%)",
    },
    {
        "slug": "database-slow",
        "name": "Database Slow",
        "description": "95th percentile of database query time over 5 minutes, in ms.",
        "expression": (
            "histogram_quantile(0.95, sum by (le) (rate(db_query_duration_ms_bucket[5m])))"
        ),
        "operator": ">",
        "threshold": 1000,
        "severity": "warning",
        "channels": ["slack"],
        "min_volume_expression": "sum(increase(db_query_duration_ms_count[5m]))",
        "min_volume": 20,
        "for_seconds": 5 * MINUTE,
        "cooldown_seconds": 30 * MINUTE,
        "summary": "Database p95 query time {value} ms (threshold {threshold} ms)",
    },
    {
        "slug": "api-error-rate-high",
        "name": "API Error Rate High",
        "description": "Errors against HTTP requests in the last 5 minutes, in percent.",
        "expression": f"{_ERRORS} / {_REQUESTS} * 100",
        "operator": ">",
        "threshold": 5,
        "severity": "error",
        "channels": ["email", "slack"],
        "min_volume_expression": _REQUESTS,
        "min_volume": 100,
        "for_seconds": 3 * MINUTE,
        "cooldown_seconds": 30 * MINUTE,
        "summary": "API error rate {value}% over 5 minutes (threshold {threshold}%)",
    },
    {
        "slug": "solana-network-issues",
        "name": "Solana Network Issues",
        "description": "Failed Solana transactions against all in the last 10 minutes, in percent.",
        "expression": f"{_SOLANA_FAILED} / {_SOLANA_ALL} * 100",
        "operator": ">",
        "threshold": 10,
        "severity": "critical",
        "channels": ["email", "slack", "pagerduty"],
        "min_volume_expression": _SOLANA_ALL,
        "min_volume": 20,
        "for_seconds": 2 * MINUTE,
        "cooldown_seconds": 30 * MINUTE,
        "summary": "{value}% of Solana transactions failed in 10 minutes (threshold {threshold}%)",
    },
    {
        "slug": "queue-backup",
        "name": "Queue Backup",
        "description": "The longest queue has more jobs waiting than it should.",
        "expression": "max(queue_size)",
        "operator": ">",
        "threshold": 1000,
        "severity": "warning",
        "channels": ["slack"],
        "for_seconds": 5 * MINUTE,
        "cooldown_seconds": 30 * MINUTE,
        "summary": "{value} jobs waiting in the longest queue (threshold {threshold})",
    },
    {
        "slug": "revenue-drop",
        "name": "Revenue Drop",
        "description": "Revenue in the last hour against the same hour a week earlier, in percent.",
        "expression": f"({_REVENUE} - {_REVENUE_WEEK_AGO}) / {_REVENUE_WEEK_AGO} * 100",
        "operator": "<",
        "threshold": -50,
        "severity": "info",
        "channels": ["email"],
        # No alert when last week's hour was too small to compare (100.00 in cents).
        "min_volume_expression": _REVENUE_WEEK_AGO,
        "min_volume": 10000,
        "for_seconds": 15 * MINUTE,
        "cooldown_seconds": 6 * 60 * MINUTE,
        "summary": "Revenue {value}% against the same hour last week (threshold {threshold}%)",
    },
    {
        "slug": "concurrent-users-spike",
        "name": "Concurrent Users Spike",
        "description": "More users active at once than the platform is sized for.",
        "expression": "sum(active_users)",
        "operator": ">",
        "threshold": 10000,
        "severity": "info",
        "channels": ["slack"],
        "for_seconds": 5 * MINUTE,
        "cooldown_seconds": 60 * MINUTE,
        "summary": "{value} users active (threshold {threshold})",
    },
)

SERVICE_DOWN_RULE: dict[str, Any] = {
    "slug": SERVICE_DOWN,
    "name": "Service Down",
    "description": "A critical platform service is down (raised by the health rounds).",
    "expression": "",
    "operator": "==",
    "threshold": 0,
    "severity": "critical",
    "channels": ["email", "slack", "pagerduty"],
    "for_seconds": 0,
    "cooldown_seconds": 10 * MINUTE,
    "builtin": True,
    "summary": "{labels.service} is down",
    "description_text": "The critical service {labels.service} is down.",
}


def _rule_fields(spec: dict[str, Any]) -> dict[str, Any]:
    fields = {k: v for k, v in spec.items() if k not in ("summary", "description_text")}
    description = spec.get("description_text") or (
        spec["description"] + " Currently {value} against a threshold of {threshold}."
    )
    fields["annotations"] = {"summary": spec["summary"], "description": description}
    if not fields.get("builtin"):
        # At least two evaluation intervals, whatever RULE_EVALUATION_INTERVAL_SECONDS says.
        interval = settings.RULE_EVALUATION_INTERVAL_SECONDS
        fields["for_seconds"] = max(fields["for_seconds"], 2 * interval)
    return fields


def seed(log: Log) -> None:
    """Create the default rules that do not exist (by slug); leave existing ones as edited."""
    created = []
    specs = (*DEFAULT_RULES, SERVICE_DOWN_RULE, SELF_CHECK_RULE, ANOMALY_RULE_SPEC, EXTERNAL_RULE)
    for spec in specs:
        fields = _rule_fields(spec)
        slug = fields.pop("slug")
        if Rule.objects.filter(Q(slug=slug) | Q(name=fields["name"])).exists():
            continue
        create_rule(fields={"slug": slug, **fields}, user=None, reason="seeded by bootstrap")
        created.append(slug)
    log(f"alert rules: {len(created)} created, {len(specs) - len(created)} kept as they are")
