"""metrics_app's periodic jobs and retention (installed as django-q2 schedules)."""

from __future__ import annotations

from django.conf import settings

from monitoring_site.jobs import Cleanup, Job

JOBS = [
    Job(
        name="metrics.aggregate",
        func="metrics_app.tasks.aggregate",
        minutes=settings.METRICS_AGGREGATION_INTERVAL_MINUTES,
    ),
    Job(name="metrics.host", func="metrics_app.tasks.host_metrics", minutes=1),
    # Retries of remote write after a failure, and anything a wake-up missed (issue #20).
    Job(name="metrics.remote_write", func="metrics_app.tasks.forward_samples", minutes=1),
]

TASKS = ["metrics_app.tasks.forward_samples"]

CLEANUPS = [
    # Also pruned by every metrics.aggregate run (metrics_app.aggregation.prune_fine_buckets):
    # an hour of them is what rule windows read, a day of them would be 24 times that.
    Cleanup(
        name="metric buckets (10 seconds)",
        model="metrics_app.FineBucket",
        field="start",
        setting="METRICS_FINE_RETENTION_MINUTES",
        unit="minutes",
    ),
    Cleanup(
        name="metric buckets (1 minute)",
        model="metrics_app.Bucket",
        field="start",
        setting="METRICS_BUCKET_RETENTION_HOURS",
        unit="hours",
    ),
    Cleanup(
        name="metric rollups (5 minutes)",
        model="metrics_app.Rollup",
        field="start",
        setting="METRICS_ROLLUP_5M_RETENTION_DAYS",
        filters=(("resolution", 300),),
    ),
    Cleanup(
        name="metric rollups (1 hour)",
        model="metrics_app.Rollup",
        field="start",
        setting="METRICS_ROLLUP_1H_RETENTION_DAYS",
        filters=(("resolution", 3600),),
    ),
    Cleanup(
        name="idle metric series",
        model="metrics_app.Series",
        field="updated_at",
        setting="METRICS_SERIES_IDLE_DAYS",
    ),
]
