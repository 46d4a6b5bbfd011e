"""Evaluation cycles (one row each, what /metrics exports) and the lease that serialises them."""

from __future__ import annotations

from django.db import models


class EvaluationCycle(models.Model):
    """One evaluation of the enabled rules at one instant, or a cycle skipped by an overrun."""

    class Reason(models.TextChoices):
        SCHEDULE = "schedule", "the interval's grid"
        SAMPLES = "samples", "their series received samples"
        FOR = "for", "a pending alert's for ends"
        FALLBACK = "fallback", "the minute job (no evaluator)"
        MANUAL = "manual", "by hand"

    started_at = models.DateTimeField(db_index=True)
    scheduled_for = models.DateTimeField(help_text="The interval boundary this cycle belongs to.")
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.FloatField(null=True, blank=True)
    lag_ms = models.FloatField(default=0.0, help_text="Start minus the scheduled boundary.")
    rules = models.IntegerField(default=0)
    errors = models.IntegerField(default=0)
    changes = models.IntegerField(default=0, help_text="Alert state changes written.")
    skipped = models.BooleanField(default=False)
    error = models.TextField(blank=True)
    host = models.CharField(max_length=255, blank=True)
    pid = models.IntegerField(null=True, blank=True)
    reason = models.CharField(
        max_length=10,
        choices=Reason.choices,
        default=Reason.SCHEDULE,
        help_text="Why it ran; all enabled rules for schedule, fallback and manual, else some.",
    )

    class Meta:
        ordering = ["-started_at", "-pk"]

    def __str__(self) -> str:
        state = "skipped" if self.skipped else f"{self.rules} rules, {self.errors} errors"
        return f"cycle at {self.started_at:%Y-%m-%d %H:%M:%S} ({state})"


class EvaluationLease(models.Model):
    """A named lease claimed with a conditional UPDATE: one evaluation cycle runs at a time."""

    name = models.CharField(max_length=50, unique=True)
    holder = models.CharField(max_length=64, blank=True)
    acquired_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.name} ({self.holder or 'free'})"


class EvaluatorHeartbeat(models.Model):
    """The evaluator loop's lease and heartbeat: one row per cluster, held by one evaluator.

    The holder renews ``expires_at`` (one interval ahead) on every turn of its loop; another
    evaluator takes the row over once it has expired. The minute job reads ``beat_at`` to decide
    whether it must evaluate itself.
    """

    name = models.CharField(max_length=50, unique=True)
    holder = models.CharField(max_length=64, blank=True)
    host = models.CharField(max_length=255, blank=True)
    pid = models.IntegerField(null=True, blank=True)
    since = models.DateTimeField(null=True, blank=True, help_text="When the holder took it.")
    beat_at = models.DateTimeField(null=True, blank=True, help_text="The holder's last turn.")
    expires_at = models.DateTimeField(null=True, blank=True)
    last_cycle_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.name} ({self.holder or 'free'})"
