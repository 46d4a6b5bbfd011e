"""Reads of alerts and rules that the API and admin share."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Case, IntegerField, QuerySet, Value, When
from django.utils import timezone

from alerts.models import Alert, EvaluationCycle
from alerts.severity import UNKNOWN_RANK, Severity

RECENT_WINDOW = timedelta(hours=24)
RECENT_LIMIT = 50


def _by_severity(queryset: QuerySet[Alert]) -> QuerySet[Alert]:
    rank = Case(
        *(When(severity=severity.value, then=Value(severity.rank)) for severity in Severity),
        default=Value(UNKNOWN_RANK),
        output_field=IntegerField(),
    )
    return queryset.annotate(severity_rank=rank).order_by("severity_rank", "-started_at", "-pk")


def active_alerts() -> QuerySet[Alert]:
    """Open alerts (pending, firing, acknowledged), the most severe first."""
    return _by_severity(Alert.objects.filter(state__in=Alert.OPEN_STATES).select_related("rule"))


def recent_alerts(*, now: datetime | None = None, limit: int = RECENT_LIMIT) -> list[Alert]:
    """Alerts resolved in the last 24 hours, newest first."""
    since = (now or timezone.now()) - RECENT_WINDOW
    return list(
        Alert.objects.filter(state=Alert.State.RESOLVED, resolved_at__gte=since)
        .select_related("rule")
        .order_by("-resolved_at", "-pk")[:limit]
    )


def last_cycles(limit: int = 1) -> list[EvaluationCycle]:
    return list(
        EvaluationCycle.objects.filter(skipped=False).order_by("-started_at", "-pk")[:limit]
    )
