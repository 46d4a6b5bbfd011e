"""Notification channels, the outbox (Notification + attempts) and escalation policies."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models
from django.dispatch import receiver
from simple_history.models import HistoricalRecords
from simple_history.signals import pre_create_historical_record

from alerts.channels import CHANNEL_KIND_CHOICES, CHANNEL_KINDS, Channel, get_channel_class
from alerts.channels.secrets import masked_config

# The namespace of notification idempotency keys (uuid5); a constant, never to change.
IDEMPOTENCY_NAMESPACE = uuid.UUID("5b0f6a52-0c57-4c1e-9a55-2f3e1c7d9b13")

__all__ = [
    "AlertEscalation",
    "EscalationLevel",
    "EscalationPolicy",
    "Notification",
    "NotificationAttempt",
    "NotificationChannel",
]


class NotificationChannel(models.Model):
    """One configured destination (an email list, a Slack channel, a PagerDuty service, a URL)."""

    # Derived from the channel registry (alerts.channels.base.REGISTRY): one list of kinds.
    # (Django's functional Choices API; django-stubs types only its name-and-label form.)
    Kind = models.TextChoices(  # type: ignore[call-overload]
        "Kind", [(kind.upper(), (kind, label)) for kind, label in CHANNEL_KIND_CHOICES]
    )

    kind = models.CharField(max_length=12, choices=Kind.choices)
    name = models.CharField(max_length=100, unique=True)
    config = models.JSONField(default=dict, blank=True, help_text="Validated per kind on save.")
    enabled = models.BooleanField(default=True)
    # Rules reach channels by reference or by kind; a channel meant only for an escalation level
    # opts out of the kind shorthand.
    for_rule_kinds = models.BooleanField(
        "reached by rules naming its kind",
        default=True,
        help_text="Off for channels that only escalation levels should reach (a person's email).",
    )
    disabled_reason = models.CharField(max_length=300, blank=True)
    last_sent_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_error = models.TextField(blank=True, editable=False)
    last_error_at = models.DateTimeField(null=True, blank=True, editable=False)
    failing_since = models.DateTimeField(
        null=True, blank=True, editable=False, help_text="First failure since the last success."
    )
    # Pacing (Slack: one message per second per channel), claimed with a conditional UPDATE.
    paced_until = models.DateTimeField(null=True, blank=True, editable=False)
    # The vendor's own rate limit: a 429 or 503 with Retry-After holds every message of the
    # channel until then (alerts.notifications.pause).
    paused_until = models.DateTimeField(
        null=True,
        blank=True,
        editable=False,
        help_text="The vendor asked to wait (429 or 503 with Retry-After): nothing is sent before.",
    )
    pause_reason = models.CharField(max_length=300, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords(
        excluded_fields=[
            "last_sent_at",
            "last_error",
            "last_error_at",
            "failing_since",
            "paced_until",
            "paused_until",
            "pause_reason",
            "updated_at",
        ]
    )

    class Meta:
        ordering = ["name"]
        permissions = [("test_notificationchannel", "Can send a test notification")]

    def __str__(self) -> str:
        return f"{self.name} ({self.kind})"

    def clean(self) -> None:
        if self.kind not in CHANNEL_KINDS:
            raise ValidationError({"kind": [f"Expected one of {', '.join(CHANNEL_KINDS)}."]})
        try:
            self.config = get_channel_class(self.kind).validate_config(self.config or {})
        except ValidationError as exc:
            raise ValidationError({"config": _flatten(exc)}) from None

    def is_paused(self, now: datetime) -> bool:
        """The vendor asked to wait and the time it gave has not come yet."""
        return self.paused_until is not None and self.paused_until > now

    def transport(self) -> Channel:
        """The channel class of this kind, configured from this row."""
        return get_channel_class(self.kind)(self.config or {})


@receiver(pre_create_historical_record)
def _mask_channel_secrets(sender: Any, instance: Any, history_instance: Any, **kwargs: Any) -> None:
    """The edit history keeps channel settings with their secrets masked, for every reader."""
    if isinstance(instance, NotificationChannel):
        history_instance.config = masked_config(instance.config)


def _flatten(exc: ValidationError) -> list[str]:
    if hasattr(exc, "error_dict"):
        return [f"{field}: {msg}" for field, errs in exc.message_dict.items() for msg in errs]
    return list(exc.messages)


class EscalationPolicy(models.Model):
    """Ordered levels notified one after another until someone acknowledges."""

    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "escalation policies"

    def __str__(self) -> str:
        return self.name

    def ordered_levels(self) -> list[EscalationLevel]:
        return list(self.levels.order_by("position").prefetch_related("channels"))


class EscalationLevel(models.Model):
    """One step of a policy: who is told, and how long they have before the next step."""

    policy = models.ForeignKey(EscalationPolicy, on_delete=models.CASCADE, related_name="levels")
    position = models.PositiveSmallIntegerField(help_text="1 is notified when the alert fires.")
    name = models.CharField(max_length=100)
    wait_minutes = models.PositiveIntegerField(
        default=15, help_text="Minutes before the next level (after the last: between reminders)."
    )
    channels = models.ManyToManyField(NotificationChannel, blank=True, related_name="levels")

    class Meta:
        ordering = ["policy", "position"]
        constraints = [
            models.UniqueConstraint(fields=["policy", "position"], name="escalation_level_unique"),
            models.CheckConstraint(
                condition=models.Q(position__gte=1), name="escalation_level_position_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.policy.name} {self.position}: {self.name} ({self.wait_minutes} min)"

    @property
    def wait(self) -> timedelta:
        return timedelta(minutes=self.wait_minutes)


class AlertEscalation(models.Model):
    """Where one alert is in its policy: the level notified last, when, and reminders sent."""

    alert = models.OneToOneField(
        "alerts.Alert", on_delete=models.CASCADE, related_name="escalation"
    )
    policy = models.ForeignKey(EscalationPolicy, null=True, on_delete=models.SET_NULL)
    level = models.PositiveSmallIntegerField(default=1)
    level_notified_at = models.DateTimeField()
    next_at = models.DateTimeField(null=True, blank=True, db_index=True)
    reminders_sent = models.PositiveIntegerField(default=0)
    stopped_at = models.DateTimeField(null=True, blank=True)
    stopped_reason = models.CharField(max_length=50, blank=True)

    def __str__(self) -> str:
        return f"alert {self.alert_id} at level {self.level}"


class Notification(models.Model):
    """One message to one channel (the outbox row), written with the event that causes it."""

    class Kind(models.TextChoices):
        FIRING = "firing"
        ACKNOWLEDGED = "acknowledged"
        RESOLVED = "resolved"
        ESCALATED = "escalated"
        REMINDER = "reminder"
        # A message that is not about an incident (a channel check, a synthetic alert): tried once.
        TEST_MESSAGE = "test", "Test"

    class State(models.TextChoices):
        QUEUED = "queued"
        SENDING = "sending"
        DELIVERED = "delivered"
        FAILED = "failed"

    PENDING_STATES = (State.QUEUED, State.SENDING)

    alert = models.ForeignKey(
        "alerts.Alert",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="notifications",
    )
    event = models.ForeignKey(
        "alerts.AlertEvent", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    channel = models.ForeignKey(
        NotificationChannel, on_delete=models.CASCADE, related_name="notifications"
    )
    kind = models.CharField(max_length=12, choices=Kind.choices)
    escalation_level = models.PositiveSmallIntegerField(null=True, blank=True)
    payload = models.JSONField(default=dict, help_text="The AlertMessage, as it was when queued.")
    state = models.CharField(max_length=10, choices=State.choices, default=State.QUEUED)
    due_at = models.DateTimeField()
    lease_until = models.DateTimeField(null=True, blank=True)
    claim = models.CharField(max_length=32, blank=True, help_text="Who holds the lease.")
    attempts = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField()
    delivered_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    ack_used_at = models.DateTimeField(null=True, blank=True, help_text="Its link was used.")

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            # Dispatchers read the most overdue pending row: delivered rows stay out of the index.
            models.Index(
                fields=["due_at", "id"],
                condition=models.Q(state__in=["queued", "sending"]),
                name="notification_pending_due",
            ),
            models.Index(fields=["alert", "channel"], name="notification_alert_channel"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} to {self.channel_id} ({self.state})"

    def is_pending(self) -> bool:
        return self.state in self.PENDING_STATES

    def age(self, now: Any) -> timedelta:
        return now - self.created_at

    @property
    def idempotency_key(self) -> str:
        """The same for every send of this row (a resend after a crash included), unique across
        rows and databases: derived from the row's id and the instant it was queued."""
        moment = self.created_at.astimezone(UTC).isoformat()
        return str(uuid.uuid5(IDEMPOTENCY_NAMESPACE, f"notification:{self.pk}:{moment}"))


class NotificationAttempt(models.Model):
    """One try at sending a notification: when, how it went, what the vendor answered."""

    class Outcome(models.TextChoices):
        # Recorded before the send and closed after it: a dispatcher killed mid-send leaves it
        # in flight, and the next claim of the row marks it interrupted.
        IN_FLIGHT = "in_flight", "sending"
        INTERRUPTED = "interrupted", "interrupted (the dispatcher stopped mid-send)"
        DELIVERED = "delivered"
        TRANSIENT = "transient", "failed, will retry"
        PERMANENT = "permanent", "failed permanently"
        GAVE_UP = "gave_up", "failed, gave up"

    notification = models.ForeignKey(
        Notification, on_delete=models.CASCADE, related_name="attempt_rows"
    )
    channel = models.ForeignKey(
        NotificationChannel, on_delete=models.CASCADE, related_name="attempts"
    )
    at = models.DateTimeField(db_index=True, help_text="When the send started.")
    outcome = models.CharField(max_length=12, choices=Outcome.choices)
    status = models.IntegerField(null=True, blank=True, help_text="HTTP status or SMTP code.")
    error = models.TextField(blank=True)
    receipt = models.CharField(max_length=300, blank=True, help_text="Vendor message id.")
    detail = models.TextField(blank=True)
    duration_ms = models.FloatField(default=0.0)
    retry_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-at", "-pk"]
        indexes = [models.Index(fields=["channel", "-at"], name="attempt_channel_at")]

    def __str__(self) -> str:
        return f"{self.outcome} at {self.at:%Y-%m-%d %H:%M:%S}"
