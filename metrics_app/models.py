"""Metric storage: every sample lands in a float series and its 1-minute bucket.

A histogram is stored the way Prometheus models it: one counter series per ``_bucket{le=...}``,
one for ``_sum`` and one for ``_count`` (summaries: ``_sum`` and ``_count``). So every series is a
plain float with counter or gauge semantics, every write is an additive upsert, and the rule
language selects ``metric_bucket{le="..."}`` directly.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class MetricDefinition(models.Model):
    """A metric registered by an admin beside the built-in catalogue."""

    class Type(models.TextChoices):
        COUNTER = "counter"
        GAUGE = "gauge"
        HISTOGRAM = "histogram"
        SUMMARY = "summary"

    name = models.CharField(max_length=200, unique=True)
    type = models.CharField(max_length=10, choices=Type.choices)
    help = models.CharField(max_length=500)
    unit = models.CharField(max_length=50, blank=True)
    label_names = models.JSONField(default=list, blank=True)
    buckets = models.JSONField(default=list, blank=True, help_text="Histogram upper bounds.")
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class IngestToken(models.Model):
    """A per-service credential for pushing samples; only its hash is stored."""

    name = models.CharField(max_length=100)
    service = models.CharField(max_length=100, db_index=True)
    prefix = models.CharField(max_length=16, unique=True, help_text="Shown to identify the token.")
    key_hash = models.CharField(max_length=128, unique=True)
    multi_service = models.BooleanField(
        default=False, help_text="May push samples for other services (e.g. a gateway)."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["service", "name"]

    def __str__(self) -> str:
        return f"{self.service}: {self.name} ({self.prefix}…)"

    def is_active(self) -> bool:
        return self.revoked_at is None


class Series(models.Model):
    """One float series (metric name + label set) and its cumulative value, what /metrics shows."""

    class Kind(models.TextChoices):
        COUNTER = "counter"
        GAUGE = "gauge"

    name = models.CharField(max_length=200, help_text="Series name, e.g. x_bucket, x_sum, x.")
    family = models.CharField(max_length=200, db_index=True, help_text="Catalogue metric name.")
    labels = models.JSONField(default=dict)
    labels_key = models.CharField(max_length=2000, help_text="Canonical form of the labels.")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    value = models.FloatField(default=0.0)
    value_at = models.DateTimeField(null=True, blank=True, help_text="Timestamp of value.")
    created_at = models.DateTimeField()
    # Not indexed: every batch sets it, and an indexed column would make each of those updates
    # write every index of the table (no heap-only update). Migration 0007 says more.
    updated_at = models.DateTimeField(help_text="Last sample received.")
    service = models.CharField(
        max_length=100,
        blank=True,
        default="",
        help_text="The service of the ingest token that created it (its share of the limit); "
        "empty when pushed otherwise.",
    )

    remote_ts = models.BigIntegerField(
        null=True,
        blank=True,
        help_text="Time (ms since epoch) of the last value queued for remote write; each next "
        "one is later, so the receiver never sees a series go back in time.",
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["name", "labels_key"], name="series_name_labels_uniq")
        ]
        indexes = [models.Index(fields=["name", "service"], name="series_name_service")]
        verbose_name_plural = "series"

    def __str__(self) -> str:
        return f"{self.name}{{{self.labels_key}}}"


class Bucket(models.Model):
    """A series' samples within one minute (``start`` is the minute, UTC).

    For a counter series ``sum`` is the total of increments in the minute; for a gauge the
    samples' sum, so ``sum / count`` is their mean, and ``last`` the value at ``last_at``.
    """

    # No index of its own: the unique (series, start) index serves lookups by series, and one
    # index less is one less to write for every new bucket.
    series = models.ForeignKey(
        Series, on_delete=models.CASCADE, related_name="buckets", db_index=False
    )
    start = models.DateTimeField(db_index=True)
    count = models.BigIntegerField(default=0)
    sum = models.FloatField(default=0.0)
    min = models.FloatField()
    max = models.FloatField()
    last = models.FloatField()
    last_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["series", "start"], name="bucket_series_start_uniq")
        ]

    def __str__(self) -> str:
        return f"{self.series_id}@{self.start:%Y-%m-%d %H:%M}"


class FineBucket(models.Model):
    """A series' samples within 10 seconds, kept for the last hour: sliding rule windows.

    Written beside the minute bucket by the same ingest (the minute buckets hold the same
    samples, so nothing is lost when these are pruned after ``METRICS_FINE_RETENTION_MINUTES``).
    Same columns as :class:`Bucket`; ``last_at`` is when the latest sample in it was taken.
    """

    series = models.ForeignKey(
        Series, on_delete=models.CASCADE, related_name="fine_buckets", db_index=False
    )  # (indexed by the unique constraint, as Bucket's)
    start = models.DateTimeField(db_index=True)
    count = models.BigIntegerField(default=0)
    sum = models.FloatField(default=0.0)
    min = models.FloatField()
    max = models.FloatField()
    last = models.FloatField()
    last_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["series", "start"], name="finebucket_series_start_uniq")
        ]

    def __str__(self) -> str:
        return f"{self.series_id}@{self.start:%Y-%m-%d %H:%M:%S}"


class Rollup(models.Model):
    """Buckets folded into 5-minute or hourly periods, for long windows and offsets."""

    class Resolution(models.IntegerChoices):
        FIVE_MINUTES = 300, "5 minutes"
        HOUR = 3600, "1 hour"

    series = models.ForeignKey(Series, on_delete=models.CASCADE, related_name="rollups")
    resolution = models.IntegerField(choices=Resolution.choices)
    start = models.DateTimeField()
    count = models.BigIntegerField(default=0)
    sum = models.FloatField(default=0.0)
    min = models.FloatField()
    max = models.FloatField()
    last = models.FloatField()
    last_at = models.DateTimeField()
    exported = models.BooleanField(
        default=False, help_text="Written to InfluxDB since it last changed (when configured)."
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["series", "resolution", "start"], name="rollup_series_res_start_uniq"
            )
        ]
        indexes = [
            models.Index(fields=["resolution", "start"], name="rollup_res_start"),
            # The InfluxDB export reads only the rows still to send.
            models.Index(
                fields=["resolution", "start"],
                condition=models.Q(exported=False),
                name="rollup_unexported",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.series_id}@{self.start:%Y-%m-%d %H:%M}/{self.resolution}s"


class RollupProgress(models.Model):
    """How far the rollups are final: no sample can still change a period before ``final_before``.

    One row, written by the aggregation job with the rollups it computed. Readers take whole
    periods before it from the rollups and everything after it from the minute buckets, so a
    period the job has only partly rolled up is neither counted twice nor missed.
    """

    key = models.CharField(max_length=20, unique=True, default="rollups")
    final_before = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        verbose_name_plural = "rollup progress"

    def __str__(self) -> str:
        return f"rollups final before {self.final_before:%Y-%m-%d %H:%M}"


class RemoteWriteBatch(models.Model):
    """One ingested batch waiting to be forwarded by remote write: the bounded retry queue.

    ``body`` is the request as it will be sent (protobuf + snappy): each series' cumulative value
    after the batch, at a time later than any value queued before for that series.
    """

    body = models.BinaryField()
    samples = models.IntegerField(help_text="Series values in the body.")
    created_at = models.DateTimeField()
    attempts = models.IntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True)

    class Meta:
        verbose_name_plural = "remote write batches"

    def __str__(self) -> str:
        return f"remote write batch {self.pk} ({self.samples} samples)"


class RemoteWriteProgress(models.Model):
    """The remote write forwarder's one row: who sends (a lease), when to retry, and its counts."""

    key = models.CharField(max_length=20, unique=True, default="remote_write")
    holder = models.CharField(max_length=200, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    retry_at = models.DateTimeField(null=True, blank=True, help_text="Backoff after a failure.")
    failures = models.IntegerField(default=0, help_text="Failed attempts in a row.")
    sent_batches = models.BigIntegerField(default=0)
    sent_samples = models.BigIntegerField(default=0)
    rejected_batches = models.BigIntegerField(
        default=0, help_text="Refused by the receiver as bad (4xx): not retried."
    )
    rejected_samples = models.BigIntegerField(default=0)
    dropped_batches = models.BigIntegerField(
        default=0, help_text="Dropped unsent because the queue was full."
    )
    dropped_samples = models.BigIntegerField(default=0)
    last_sent_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "remote write progress"

    def __str__(self) -> str:
        return f"remote write: {self.sent_batches} batches sent"
