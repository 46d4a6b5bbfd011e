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


class RemoteWriteCollector:
    """Remote write forwarding (when on): the queue's depth, what was sent, refused and dropped."""

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        from metrics_app import forwarding
        from metrics_app.models import RemoteWriteBatch, RemoteWriteProgress

        if not forwarding.enabled():
            return
        progress = RemoteWriteProgress.objects.filter(key="remote_write").first()
        queued = RemoteWriteBatch.objects.aggregate(n=Count("pk"), samples=Sum("samples"))
        depth = GaugeMetricFamily(
            "monitoring_remote_write_queue_batches",
            "Ingested batches waiting to be forwarded by remote write.",
        )
        depth.add_metric([], queued["n"] or 0)
        yield depth
        batches = CounterMetricFamily(
            "monitoring_remote_write_batches",
            "Remote write batches: sent, rejected by the receiver, dropped (queue full).",
            labels=["outcome"],
        )
        samples = CounterMetricFamily(
            "monitoring_remote_write_samples",
            "Series values in remote write batches, by outcome.",
            labels=["outcome"],
        )
        failures = GaugeMetricFamily(
            "monitoring_remote_write_failures",
            "Failed attempts in a row (0 once a batch is sent).",
        )
        last_sent = GaugeMetricFamily(
            "monitoring_remote_write_last_success_timestamp_seconds",
            "When a batch was last accepted by the receiver (Unix time).",
        )
        for outcome in ("sent", "rejected", "dropped"):
            batches.add_metric([outcome], getattr(progress, f"{outcome}_batches", 0))
            samples.add_metric([outcome], getattr(progress, f"{outcome}_samples", 0))
        failures.add_metric([], progress.failures if progress else 0)
        yield batches
        yield samples
        yield failures
        if progress is not None and progress.last_sent_at is not None:
            last_sent.add_metric([], progress.last_sent_at.timestamp())
            yield last_sent
