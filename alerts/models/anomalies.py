"""Anomaly detectors (an expression, its seasonality and how to alert) and their scored points."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db import models
from django.utils.text import slugify

from alerts.anomalies.method import DEFAULT_SENSITIVITY, Model
from alerts.channels import CHANNEL_KINDS
from alerts.severity import Severity

# The built-in rule every anomaly alert belongs to (seeded by bootstrap): it gives the lifecycle
# its cooldown and lets one switch stop them all; each detector gives severity and channels.
ANOMALY_RULE = "anomaly"

# Written by the jobs (fits and scoring): not edits, so they do not bump the version.
RUNTIME_FIELDS = (
    "status",
    "status_message",
    "model",
    "fitted_at",
    "fitted_version",
    "scored_until",
    "last_error",
    "last_error_at",
)


class AnomalyDetector(models.Model):
    """A series (an expression over 5-minute steps) compared with what it usually does."""

    class Seasonality(models.TextChoices):  # the values of alerts.anomalies.Seasonality
        NONE = "none"
        DAILY = "daily"
        WEEKLY = "weekly"
        BOTH = "both", "both (daily and weekly)"

    class Direction(models.TextChoices):  # the values of alerts.anomalies.Direction
        UP = "up", "up (higher than usual)"
        DOWN = "down", "down (lower than usual)"
        BOTH = "both"

    Severity = Severity

    class Status(models.TextChoices):
        NEW = "new", "new (not fitted yet)"
        LEARNING = "learning", "learning (not enough history)"
        READY = "ready"
        ERROR = "error"

    name = models.CharField(max_length=200, unique=True)
    slug = models.SlugField(max_length=200, unique=True, blank=True)
    description = models.TextField(blank=True)
    expression = models.TextField(
        help_text="Rule language expression giving one series, e.g. "
        "sum(increase(tickets_sold_total[15m])) * 4; windows are multiples of 5m."
    )
    seasonality = models.CharField(
        max_length=10, choices=Seasonality.choices, default=Seasonality.BOTH
    )
    sensitivity = models.FloatField(
        default=DEFAULT_SENSITIVITY,
        help_text="1 (only the most extreme points) to 10 (the narrowest band).",
    )
    direction = models.CharField(max_length=5, choices=Direction.choices, default=Direction.BOTH)
    minimum_history_seconds = models.PositiveIntegerField(
        "minimum history (seconds)",
        default=0,
        help_text="History required before the detector leaves learning, beyond its "
        "seasonality's own minimum (1 day none, 3 days daily, 3 weeks weekly or both).",
    )
    timezone = models.CharField(
        max_length=64, default="UTC", help_text="The local time of the daily and weekly cycles."
    )
    severity = models.CharField(max_length=10, choices=Severity.choices, default=Severity.WARNING)
    channels = models.JSONField(
        "channel kinds",
        default=list,
        blank=True,
        help_text=f"Every enabled channel of these kinds ({', '.join(CHANNEL_KINDS)}) that is "
        "reached by kind.",
    )
    notification_channels = models.ManyToManyField(
        "alerts.NotificationChannel",
        blank=True,
        related_name="anomaly_detectors",
        help_text="Channels notified when the detector raises an anomaly, besides the kinds.",
    )
    enabled = models.BooleanField(default=True)
    version = models.PositiveIntegerField(default=1, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.NEW, editable=False
    )
    status_message = models.CharField(max_length=300, blank=True, editable=False)
    model = models.JSONField(
        null=True, blank=True, editable=False, help_text="The fitted model (Model.to_dict())."
    )
    fitted_at = models.DateTimeField(null=True, blank=True, editable=False)
    fitted_version = models.PositiveIntegerField(null=True, blank=True, editable=False)
    scored_until = models.DateTimeField(
        null=True, blank=True, editable=False, help_text="End of the last 5-minute step scored."
    )
    last_error = models.TextField(blank=True, editable=False)
    last_error_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self.slug:
            self.slug = slugify(self.name)[:200] or "detector"
        if self.pk is not None and not kwargs.get("update_fields"):
            self.version = (self.version or 0) + 1
        super().save(*args, **kwargs)

    @property
    def minimum_history(self) -> timedelta:
        return timedelta(seconds=self.minimum_history_seconds)

    def fitted_model(self) -> Model | None:
        """The stored model when it was fitted for the detector as it is now."""
        if self.model is None or self.fitted_version != self.version:
            return None
        return Model.from_dict(self.model)

    def needs_fit(self) -> bool:
        """Never fitted, or fitted before the last edit."""
        return self.fitted_at is None or self.fitted_version != self.version


class AnomalyScore(models.Model):
    """One 5-minute step of a detector scored against its model: observed, expected, band."""

    detector = models.ForeignKey(AnomalyDetector, on_delete=models.CASCADE, related_name="scores")
    at = models.DateTimeField(help_text="Start of the 5-minute step.")
    observed = models.FloatField()
    expected = models.FloatField()
    lower = models.FloatField()
    upper = models.FloatField()
    score = models.FloatField(help_text="(observed - expected) / sigma, signed.")
    anomalous = models.BooleanField(default=False)

    class Meta:
        ordering = ["-at", "detector_id"]
        constraints = [
            models.UniqueConstraint(fields=["detector", "at"], name="anomalyscore_detector_at")
        ]
        indexes = [
            models.Index(fields=["at"], name="anomalyscore_at"),
            models.Index(
                fields=["at"], condition=models.Q(anomalous=True), name="anomalyscore_flagged"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.detector_id} at {self.at:%Y-%m-%d %H:%M}: {self.score:+.1f}"
