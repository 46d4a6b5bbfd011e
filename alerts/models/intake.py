"""Credentials of the Alertmanager-compatible intake (``POST /api/v2/alerts``)."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class IntakeToken(models.Model):
    """A credential a Prometheus or vmalert sends its alerts with; only its hash is stored."""

    name = models.CharField(max_length=100, help_text="Who sends with it, e.g. prometheus-prod.")
    prefix = models.CharField(max_length=16, unique=True, help_text="Shown to identify the token.")
    key_hash = models.CharField(max_length=128, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    def is_active(self) -> bool:
        return self.revoked_at is None
