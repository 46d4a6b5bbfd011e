"""The evaluation lease: one evaluator at a time, claimed with a conditional UPDATE."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q

from alerts.models import EvaluationLease

LEASE_NAME = "evaluation"


def claim_lease(*, holder: str, now: datetime, seconds: int | None = None) -> bool:
    """Take the evaluation lease if it is free or expired (one conditional UPDATE)."""
    seconds = seconds or settings.ALERT_EVALUATION_LEASE_SECONDS
    EvaluationLease.objects.bulk_create([EvaluationLease(name=LEASE_NAME)], ignore_conflicts=True)
    claimed = (
        EvaluationLease.objects.filter(name=LEASE_NAME)
        .filter(Q(holder="") | Q(expires_at__isnull=True) | Q(expires_at__lte=now))
        .update(holder=holder, acquired_at=now, expires_at=now + timedelta(seconds=seconds))
    )
    return claimed == 1


def release_lease(*, holder: str) -> None:
    EvaluationLease.objects.filter(name=LEASE_NAME, holder=holder).update(
        holder="", expires_at=None
    )
