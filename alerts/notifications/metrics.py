"""/metrics figures of notification delivery, computed from the outbox and attempt rows."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.db import DatabaseError
from django.db.models import Count, DurationField, ExpressionWrapper, F, Q, Sum
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

from alerts.models import Notification, NotificationAttempt

if TYPE_CHECKING:
    from alerts.models import Notification

logger = logging.getLogger(__name__)

# Alert event -> delivered, in seconds.
LATENCY_BUCKETS = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0)


class NotificationCollector:
    """Attempts by outcome, rows by state, and delivery latency, per channel kind.

    Counts cover the rows still kept (NOTIFY_RETENTION_DAYS); a prune reads as a counter reset.
    """

    def describe(self) -> list[Metric]:
        return []  # registering must not query the database

    def collect(self) -> Iterator[Metric]:
        try:
            yield from self._collect()
        except DatabaseError:
            logger.exception("notification metrics unavailable")

    def _collect(self) -> Iterator[Metric]:

        attempts = CounterMetricFamily(
            "alert_notification_attempts",
            "Notification send attempts by channel kind and outcome.",
            labels=["kind", "outcome"],
        )
        rows = (
            NotificationAttempt.objects.values("channel__kind", "outcome")
            .annotate(n=Count("pk"))
            .order_by("channel__kind", "outcome")
        )
        for row in rows:
            attempts.add_metric([row["channel__kind"], row["outcome"]], row["n"])
        yield attempts
        states = GaugeMetricFamily(
            "alert_notifications",
            "Outbox rows by channel kind and state.",
            labels=["kind", "state"],
        )
        for counted in (
            Notification.objects.values("channel__kind", "state")
            .annotate(n=Count("pk"))
            .order_by("channel__kind", "state")
        ):
            states.add_metric([counted["channel__kind"], counted["state"]], counted["n"])
        yield states
        yield self._latency(Notification)

    def _latency(self, model: type[Notification]) -> Metric:
        family = HistogramMetricFamily(
            "alert_notification_delivery_seconds",
            "Time from the alert event to the vendor accepting the message.",
            labels=["kind"],
        )
        latency = ExpressionWrapper(
            F("delivered_at") - F("created_at"), output_field=DurationField()
        )
        counts = {
            f"le{i}": Count("pk", filter=Q(latency__lte=timedelta(seconds=bound)))
            for i, bound in enumerate(LATENCY_BUCKETS)
        }
        # The bucket counts are annotated under computed names, which the row type cannot list.
        rows: Iterable[Mapping[str, Any]] = (
            model.objects.filter(state="delivered", delivered_at__isnull=False)
            .alias(latency=latency)
            .values("channel__kind")
            .annotate(total=Count("pk"), latency_sum=Sum("latency"), **counts)
            .order_by("channel__kind")
        )
        for row in rows:
            buckets = [(str(b), row[f"le{i}"]) for i, b in enumerate(LATENCY_BUCKETS)]
            buckets.append(("+Inf", row["total"]))
            total = row["latency_sum"] or timedelta(0)
            family.add_metric([row["channel__kind"]], buckets, total.total_seconds())
        return family


NOTIFICATION_COLLECTOR = NotificationCollector()
