from __future__ import annotations

from django.conf import settings
from django.db import models


class JobRun(models.Model):
    """One run of a periodic job, written by the job wrapper whichever process ran it."""

    class Outcome(models.TextChoices):
        RUNNING = "running"
        SUCCESS = "success"
        FAILURE = "failure"

    job = models.CharField(max_length=100, db_index=True)
    started_at = models.DateTimeField(db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.FloatField(null=True, blank=True)
    outcome = models.CharField(max_length=10, choices=Outcome.choices, default=Outcome.RUNNING)
    error = models.TextField(blank=True)
    result = models.TextField(blank=True)
    host = models.CharField(max_length=255, blank=True)
    pid = models.IntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["job", "-started_at"], name="jobrun_job_started")]

    def __str__(self) -> str:
        return f"{self.job} at {self.started_at:%Y-%m-%d %H:%M:%S} ({self.outcome})"


class SeedRecord(models.Model):
    """A thing ``bootstrap`` seeded once; an admin's later edit or deletion of it is final."""

    key = models.CharField(max_length=255, unique=True)
    seeded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["key"]

    def __str__(self) -> str:
        return self.key


class TokenRevocation(models.Model):
    """Per user: the generation every API token must carry; revoking bumps it, ending the rest."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="token_revocation",
    )
    # Tokens carry the generation they were issued in (a counter, not a time: a token issued in
    # the same second as a revocation is told apart).
    generation = models.PositiveIntegerField(default=0)
    revoked_at = models.DateTimeField(null=True, blank=True)
    # Set by "sign out everywhere" only: browser sessions that began earlier end. A password
    # change ends other sessions by itself (Django's session hash) and keeps the current one.
    signed_out_at = models.DateTimeField(null=True, blank=True)
    reason = models.CharField(max_length=200, blank=True)

    class Meta:
        permissions = [("revoke_tokens", "Can sign any user out everywhere")]

    def __str__(self) -> str:
        return f"tokens of user {self.user_id}: generation {self.generation}"
