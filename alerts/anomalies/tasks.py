"""Job entry points of anomaly detection (declared in ``alerts/jobs.py``)."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from alerts.anomalies.services import fit_stale, score_detectors

# The daily fit refits what was fitted at least this long ago: a second run on the same day
# (a retry, a manual run) refits nothing, so a detector is fitted at most once a day.
DAILY_REFIT_AGE = timedelta(hours=12)


def score_anomalies() -> str:
    """Every ANOMALY_SCORE_INTERVAL_MINUTES: score the new 5-minute steps of every detector."""
    return str(score_detectors(now=timezone.now()))


def fit_anomaly_models() -> str:
    """Daily (ANOMALY_FIT_CRON): refit every enabled detector from its history."""
    fitted = fit_stale(
        now=timezone.now(),
        older_than=DAILY_REFIT_AGE,
        limit=None,
        budget=settings.ANOMALY_FIT_BUDGET_SECONDS,
    )
    return f"{fitted} detectors fitted"
