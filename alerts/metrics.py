"""/metrics figures of the alert engine, computed from rows (any web process reports them all)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING

from django.db import DatabaseError
from django.db.models import Count, Q, Sum
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from alerts.models import Alert, EvaluationCycle

if TYPE_CHECKING:
    from alerts.models import Alert

logger = logging.getLogger(__name__)


class EvaluationCollector:
    """Evaluation cycles (duration, lag, skipped, errors) and open alerts, read from the rows.

    The counters count the rows still kept (``ALERT_EVALUATION_CYCLE_RETENTION_DAYS``), so they
    may drop when old rows are pruned; ``rate()`` over them treats that as a counter reset.
    """

    def describe(self) -> list[Metric]:
        return []  # registering must not query the database

    def collect(self) -> Iterator[Metric]:
        try:
            yield from self._collect()
        except DatabaseError:
            logger.exception("alert metrics unavailable")

    def _collect(self) -> Iterator[Metric]:

        totals = EvaluationCycle.objects.aggregate(
            run=Count("pk", filter=Q(skipped=False)),
            skipped=Count("pk", filter=Q(skipped=True)),
            errors=Sum("errors"),
        )
        last = (
            EvaluationCycle.objects.filter(skipped=False, finished_at__isnull=False)
            .order_by("-started_at", "-pk")
            .first()
        )
        yield _counter("alert_evaluation_cycles", "Evaluation cycles run.", totals["run"])
        yield _counter(
            "alert_evaluation_skipped_cycles",
            "Evaluation cycles skipped because the previous one still ran.",
            totals["skipped"],
        )
        yield _counter(
            "alert_evaluation_rule_errors", "Rule run-time errors.", totals["errors"] or 0
        )
        if last is not None:
            yield _gauge(
                "alert_evaluation_duration_seconds",
                "Duration of the last evaluation cycle.",
                (last.duration_ms or 0.0) / 1000,
            )
            yield _gauge(
                "alert_evaluation_lag_seconds",
                "How late the last cycle started after its scheduled boundary.",
                last.lag_ms / 1000,
            )
            yield _gauge(
                "alert_evaluation_last_run_timestamp_seconds",
                "When the last evaluation cycle started (Unix time).",
                last.started_at.timestamp(),
            )
        yield self._open_alerts(Alert)

    def _open_alerts(self, alert_model: type[Alert]) -> Metric:
        family = GaugeMetricFamily(
            "alerts_open", "Open alerts by state and severity.", labels=["state", "severity"]
        )
        rows = (
            alert_model.objects.filter(state__in=alert_model.OPEN_STATES)
            .values("state", "severity")
            .annotate(n=Count("pk"))
            .order_by("state", "severity")
        )
        for row in rows:
            family.add_metric([row["state"], row["severity"]], row["n"])
        return family


def _counter(name: str, documentation: str, value: float) -> Metric:
    return CounterMetricFamily(name, documentation, value=value)


def _gauge(name: str, documentation: str, value: float) -> Metric:
    return GaugeMetricFamily(name, documentation, value=value)


EVALUATION_COLLECTOR = EvaluationCollector()
