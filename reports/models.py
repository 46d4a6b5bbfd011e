"""The daily report (one per date) and the e-mails that carry it."""

from __future__ import annotations

from django.db import models

from alerts.models import Notification


class Report(models.Model):
    """One day's report (a date in ``time_zone``): its figures, replaced when made again."""

    day = models.DateField(unique=True)
    time_zone = models.CharField(max_length=64)
    generated_at = models.DateTimeField()
    has_data = models.BooleanField(help_text="False: nothing was recorded that day.")
    data = models.JSONField(help_text="Every figure of the report, as the API serves it.")

    class Meta:
        ordering = ["-day"]

    def __str__(self) -> str:
        return f"report of {self.day:%Y-%m-%d}"


class ReportDelivery(models.Model):
    """One e-mail of a report to its recipients, retried with backoff like a notification."""

    # The states of an outbox row, as a notification has them.
    State = Notification.State
    PENDING_STATES = Notification.PENDING_STATES

    report = models.ForeignKey(Report, on_delete=models.CASCADE, related_name="deliveries")
    recipients = models.JSONField(default=list)
    state = models.CharField(max_length=10, choices=State.choices, default=State.QUEUED)
    created_at = models.DateTimeField()
    due_at = models.DateTimeField()
    lease_until = models.DateTimeField(null=True, blank=True)
    claim = models.CharField(max_length=32, blank=True, help_text="Who holds the lease.")
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    last_status = models.IntegerField(null=True, blank=True, help_text="SMTP reply code.")
    delivered_at = models.DateTimeField(null=True, blank=True)
    message_id = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(
                fields=["due_at", "id"],
                condition=models.Q(state__in=["queued", "sending"]),
                name="reportdelivery_pending_due",
            )
        ]

    def __str__(self) -> str:
        return f"{self.report} to {len(self.recipients)} recipient(s) ({self.state})"

    def is_pending(self) -> bool:
        return self.state in self.PENDING_STATES
