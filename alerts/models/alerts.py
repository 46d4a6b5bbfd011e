"""Alerts, their event timeline, and per-fingerprint notification memory."""

from __future__ import annotations

import hashlib
import json

from django.conf import settings
from django.db import models
from django.db.models import Q


def fingerprint_for(source: str, rule_key: str, labels: dict[str, str]) -> str:
    """The identity of an alert: source + rule + labels (hashed, order-independent)."""
    canonical = json.dumps(
        [source, rule_key, sorted((str(k), str(v)) for k, v in labels.items())],
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


class Alert(models.Model):
    """One occurrence of a condition, from pending to resolved; at most one open per fingerprint."""

    class Source(models.TextChoices):
        RULE = "rule"
        HEALTH = "health"
        ANOMALY = "anomaly"
        SELF = "self", "self-check"
        EXTERNAL = "external"  # Prometheus, vmalert: the Alertmanager-compatible intake

    class State(models.TextChoices):
        PENDING = "pending"
        FIRING = "firing"
        ACKNOWLEDGED = "acknowledged"
        RESOLVED = "resolved"

    OPEN_STATES = (State.PENDING, State.FIRING, State.ACKNOWLEDGED)
    ACTIVE_STATES = (State.FIRING, State.ACKNOWLEDGED)

    source = models.CharField(max_length=10, choices=Source.choices, default=Source.RULE)
    rule = models.ForeignKey(
        "alerts.Rule", null=True, blank=True, on_delete=models.SET_NULL, related_name="alerts"
    )
    detector = models.ForeignKey(
        "alerts.AnomalyDetector",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="alerts",
        help_text="The anomaly detector that raised it (source anomaly).",
    )
    fingerprint = models.CharField(max_length=64, db_index=True)
    labels = models.JSONField(default=dict, blank=True)
    state = models.CharField(max_length=12, choices=State.choices, default=State.PENDING)
    severity = models.CharField(max_length=10, default="warning")
    # What the rule was when the alert opened, so a later edit does not rewrite history.
    rule_name = models.CharField(max_length=200)
    expression = models.TextField(blank=True)
    rule_version = models.PositiveIntegerField(null=True, blank=True)
    operator = models.CharField(max_length=2, blank=True)
    threshold = models.FloatField(null=True, blank=True)
    value = models.FloatField(null=True, blank=True)
    summary = models.TextField(blank=True)
    description = models.TextField(blank=True)
    details = models.JSONField(default=dict, blank=True)

    started_at = models.DateTimeField(db_index=True)
    fired_at = models.DateTimeField(null=True, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="acknowledged_alerts",
    )
    acknowledged_by_name = models.CharField(max_length=200, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True, db_index=True)
    resolved_by_name = models.CharField(max_length=200, blank=True)
    # What resolved it, for the resolved message: the value then (None: no data, or resolved by
    # a person or a health check) and how long it had fired (None: it never fired).
    resolved_value = models.FloatField(null=True, blank=True)
    fired_seconds = models.FloatField(null=True, blank=True)
    last_evaluated_at = models.DateTimeField(null=True, blank=True)
    condition_false_since = models.DateTimeField(null=True, blank=True)
    last_notified_at = models.DateTimeField(null=True, blank=True)
    # Set while no working channel can carry the alert (none routed, all disabled or failing);
    # cleared once one does. Shown in the admin and counted by the "reaches nobody" warning.
    unrouted_since = models.DateTimeField(
        null=True, blank=True, help_text="Since when no working channel carries this alert."
    )
    unrouted_reason = models.CharField(max_length=300, blank=True)
    # External alerts: when the sender's alert ends unless the sender repeats it (its endsAt).
    ends_at = models.DateTimeField(
        null=True, blank=True, help_text="External alerts: resolved then unless renewed."
    )

    class Meta:
        ordering = ["-started_at", "-pk"]
        constraints = [
            # At most one open alert per fingerprint, whatever the number of evaluators.
            models.UniqueConstraint(
                fields=["fingerprint"],
                condition=~Q(state="resolved"),
                name="alert_one_open_per_fingerprint",
            )
        ]
        indexes = [
            models.Index(fields=["state", "-started_at"], name="alert_state_started"),
            # The external alerts' expiry sweep reads only the alerts that have an end.
            models.Index(
                fields=["ends_at"], condition=Q(ends_at__isnull=False), name="alert_ends_at"
            ),
        ]
        permissions = [("acknowledge_alert", "Can acknowledge and resolve alerts")]

    def __str__(self) -> str:
        labels = ", ".join(f"{k}={v}" for k, v in sorted(self.labels.items()))
        return f"{self.rule_name}{{{labels}}} ({self.state})"

    def is_open(self) -> bool:
        return self.state != self.State.RESOLVED

    def can_acknowledge(self) -> bool:
        return self.state == self.State.FIRING

    def can_resolve(self) -> bool:
        return self.is_open()


class AlertEvent(models.Model):
    """One change of an alert (written in the same transaction as the change)."""

    class Kind(models.TextChoices):
        PENDING = "pending"
        FIRING = "firing"
        ACKNOWLEDGED = "acknowledged"
        RESOLVED = "resolved"
        UPDATED = "updated"
        UNROUTED = "unrouted", "reached no channel"
        ROUTED = "routed", "routed to a channel"

    # Kinds that may send a message (the notification step turns them into outbox rows).
    NOTIFYING = (Kind.FIRING, Kind.ACKNOWLEDGED, Kind.RESOLVED)

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    actor = models.CharField(max_length=200, help_text="engine, health, or who acted.")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    at = models.DateTimeField()
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["at", "pk"]
        indexes = [models.Index(fields=["alert", "at"], name="alertevent_alert_at")]

    def __str__(self) -> str:
        return f"{self.kind} by {self.actor} at {self.at:%Y-%m-%d %H:%M:%S}"


class AlertFingerprint(models.Model):
    """What outlives one alert of a fingerprint: when it last notified (for the cooldown)."""

    fingerprint = models.CharField(max_length=64, unique=True)
    last_notified_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.fingerprint
