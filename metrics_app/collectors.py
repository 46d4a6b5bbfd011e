"""Collectors fed from rows: figures about the whole cluster, whichever process serves them."""

from __future__ import annotations

from collections.abc import Iterator

from django.db.models import Count, Max, Sum
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.metrics_core import SummaryMetricFamily

from monitoring_site.models import JobRun


class JobRunCollector:
    """Job runs recorded by the job wrapper (any worker host): runs, durations, last success.

    Counts cover the rows kept (``JOB_RUN_RETENTION_DAYS``); when old rows are pruned the counter
    drops, which Prometheus treats as a reset.
    """

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:

        runs = CounterMetricFamily(
            "monitoring_job_runs", "Job runs by job and outcome.", labels=["job", "outcome"]
        )
        duration = SummaryMetricFamily(
            "monitoring_job_duration_seconds",
            "Duration of finished job runs.",
            labels=["job"],
        )
        last_success = GaugeMetricFamily(
            "monitoring_job_last_success_timestamp_seconds",
            "When each job last finished successfully (Unix time).",
            labels=["job"],
        )
        totals: dict[str, list[float]] = {}
        rows = (
            JobRun.objects.order_by()
            .values("job", "outcome")
            .annotate(n=Count("id"), ms=Sum("duration_ms"), finished=Max("finished_at"))
        )
        for row in rows:
            runs.add_metric([row["job"], row["outcome"]], row["n"])
            if row["outcome"] != JobRun.Outcome.RUNNING:
                total = totals.setdefault(row["job"], [0.0, 0.0])
                total[0] += row["n"]
                total[1] += (row["ms"] or 0.0) / 1000
            if row["outcome"] == JobRun.Outcome.SUCCESS and row["finished"] is not None:
                last_success.add_metric([row["job"]], row["finished"].timestamp())
        for job, (count, seconds) in sorted(totals.items()):
            duration.add_metric([job], count_value=int(count), sum_value=seconds)
        yield runs
        yield duration
        yield last_success
