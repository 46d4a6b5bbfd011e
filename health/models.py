"""The service registry and what the health rounds learn about it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import models
from django.dispatch import receiver
from simple_history.models import HistoricalRecords
from simple_history.signals import pre_create_historical_record

from health.outcomes import Outcome, State
from health.probes.base import redact


@dataclass(frozen=True)
class Transition:
    """What one result does to a service: new counters and, maybe, a new state."""

    state: str
    consecutive_failures: int
    consecutive_successes: int
    changed: bool
    cause: str


# What every health round writes on a Service: read-only in the API and the admin, and left out of
# the edit history (it is state, not an edit).
ROUND_FIELDS = (
    "state",
    "state_since",
    "impacted_by",
    "consecutive_failures",
    "consecutive_successes",
    "last_checked_at",
    "last_outcome",
    "last_latency_ms",
    "last_status_code",
    "last_error",
)


class Service(models.Model):
    """A platform service, datastore or one of the monitor's own dependencies, probed each round."""

    class Kind(models.TextChoices):
        HTTP = "http"
        POSTGRES = "postgres"
        REDIS = "redis"
        TCP = "tcp"
        SOLANA_RPC = "solana_rpc", "Solana RPC"
        MONITOR = "monitor", "monitor dependency"

    State = State

    slug = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.HTTP)
    target = models.CharField(
        max_length=500, help_text="URL (http, solana_rpc), DSN (postgres, redis) or host:port (tcp)"
    )
    health_path = models.CharField(max_length=200, default="/health", blank=True)
    timeout = models.FloatField(default=3.0, help_text="seconds; the round deadline caps it")
    expected_status = models.PositiveSmallIntegerField(default=200)
    critical = models.BooleanField(default=False, help_text="a failure loses sales or tickets")
    depends_on = models.ManyToManyField(
        "self", symmetrical=False, related_name="dependents", blank=True
    )
    enabled = models.BooleanField(default=True)
    failure_threshold = models.PositiveSmallIntegerField(default=3)
    success_threshold = models.PositiveSmallIntegerField(default=2)
    tags = models.JSONField(default=list, blank=True)

    # Written by the rounds (bulk updates, so they do not fill the edit history).
    state = models.CharField(max_length=10, choices=State.choices, default=State.UNKNOWN)
    state_since = models.DateTimeField(null=True, blank=True)
    impacted_by = models.JSONField(default=list, blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    consecutive_successes = models.PositiveIntegerField(default=0)
    last_checked_at = models.DateTimeField(null=True, blank=True)
    last_outcome = models.CharField(max_length=10, choices=Outcome.choices, blank=True)
    last_latency_ms = models.FloatField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords(excluded_fields=[*ROUND_FIELDS, "updated_at"])

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_monitor_dependency(self) -> bool:
        return self.kind == self.Kind.MONITOR

    def next_state(self, outcome: str, error: str = "") -> Transition:
        """Apply one result: the state moves only after enough failures or successes in a row."""
        wanted: str
        if outcome == Outcome.DOWN:
            failures, successes = self.consecutive_failures + 1, 0
            wanted, needed, streak = State.DOWN, self.failure_threshold, failures
            cause = f"{failures} failed checks in a row" + (f": {error}" if error else "")
        else:
            failures, successes = 0, self.consecutive_successes + 1
            wanted, needed, streak = outcome, self.success_threshold, successes
            cause = f"{successes} successful checks in a row" + (
                " (degraded)" if outcome == Outcome.DEGRADED else ""
            )
        changed = streak >= needed and wanted != self.state
        return Transition(
            state=wanted if changed else self.state,
            consecutive_failures=failures,
            consecutive_successes=successes,
            changed=changed,
            cause=cause[:1000],
        )


@receiver(pre_create_historical_record)
def _mask_target_password(sender: Any, instance: Any, history_instance: Any, **kwargs: Any) -> None:
    """The edit history keeps a DSN's target with its password replaced by ``***``."""
    if isinstance(instance, Service):
        history_instance.target = redact(instance.target)


class CheckResult(models.Model):
    """One probe of one service in one round."""

    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="results")
    checked_at = models.DateTimeField(db_index=True)
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    latency_ms = models.FloatField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-checked_at"]
        indexes = [models.Index(fields=["service", "-checked_at"], name="checkresult_service_at")]

    def __str__(self) -> str:
        return f"{self.service_id} {self.outcome} at {self.checked_at:%Y-%m-%d %H:%M:%S}"


class StateChange(models.Model):
    """A service moved from one state to another; handed to the alert engine after commit."""

    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="state_changes")
    from_state = models.CharField(max_length=10, choices=State.choices)
    to_state = models.CharField(max_length=10, choices=State.choices)
    at = models.DateTimeField(db_index=True)
    cause = models.TextField(blank=True)
    impacted_by = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["service", "-at"], name="statechange_service_at")]

    def __str__(self) -> str:
        return f"{self.service_id}: {self.from_state} -> {self.to_state} at {self.at:%H:%M:%S}"


class UptimeHour(models.Model):
    """Counts of one service's results in one UTC hour, kept long after the raw results."""

    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="uptime_hours")
    hour = models.DateTimeField()
    checks = models.PositiveIntegerField(default=0)
    up = models.PositiveIntegerField(default=0)
    degraded = models.PositiveIntegerField(default=0)
    down = models.PositiveIntegerField(default=0)
    latency_sum_ms = models.FloatField(default=0.0)
    latency_count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-hour"]
        constraints = [
            models.UniqueConstraint(fields=["service", "hour"], name="uptimehour_service_hour")
        ]
        indexes = [models.Index(fields=["hour"], name="uptimehour_hour")]

    def __str__(self) -> str:
        return f"{self.service_id} {self.hour:%Y-%m-%d %H}:00 {self.available}/{self.checks}"

    @property
    def available(self) -> int:
        """Up or degraded: the service answered."""
        return self.up + self.degraded


def hour_of(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)
