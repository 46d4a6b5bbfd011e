"""Reads of anomaly detection: scores, open anomalies, forecasts, and what other apps show."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from alerts.anomalies.method import forecast as forecast_points
from alerts.models import Alert, AnomalyDetector, AnomalyScore

FORECAST_HOURS = 24


def open_anomalies() -> QuerySet[Alert]:
    """Open alerts raised by detectors, the newest first."""
    return (
        Alert.objects.select_related("rule", "detector")
        .filter(source=Alert.Source.ANOMALY, state__in=Alert.OPEN_STATES)
        .order_by("-started_at", "-pk")
    )


def scores(
    *,
    detector: AnomalyDetector | None = None,
    since: datetime,
    until: datetime | None = None,
    anomalous: bool | None = None,
) -> QuerySet[AnomalyScore]:
    queryset = AnomalyScore.objects.select_related("detector").filter(at__gte=since)
    if detector is not None:
        queryset = queryset.filter(detector=detector)
    if until is not None:
        queryset = queryset.filter(at__lt=until)
    if anomalous is not None:
        queryset = queryset.filter(anomalous=anomalous)
    return queryset.order_by("-at", "detector_id")


def detector_forecast(detector: AnomalyDetector, *, now: datetime) -> dict[str, Any]:
    """The next 24 hours' expected values and band, or why there are none (learning, error)."""
    model = detector.fitted_model()
    if model is None:
        message = detector.status_message or "not fitted yet: the next scoring run fits it"
        return {
            "detector": detector.pk,
            "status": detector.status,
            "message": message,
            "fitted_at": detector.fitted_at,
            "points": [],
        }
    points = forecast_points(
        model, start=now, sensitivity=detector.sensitivity, hours=FORECAST_HOURS
    )
    return {
        "detector": detector.pk,
        "status": detector.status,
        "message": "",
        "fitted_at": detector.fitted_at,
        "points": [
            {"at": p.at, "expected": p.expected, "lower": p.lower, "upper": p.upper} for p in points
        ],
    }


def dashboard_anomalies(now: datetime) -> list[dict[str, Any]]:
    """Each enabled detector's state for the dashboard (``health.hooks.ANOMALIES``)."""
    flagged = {
        alert.detector_id: alert for alert in open_anomalies() if alert.detector_id is not None
    }
    out = []
    for detector in AnomalyDetector.objects.filter(enabled=True).order_by("name"):
        alert = flagged.get(detector.pk)
        latest = detector.scores.order_by("-at").first()
        out.append(
            {
                "id": detector.pk,
                "name": detector.name,
                "status": "anomalous" if alert else detector.status,
                "message": alert.summary if alert else detector.status_message,
                "severity": detector.severity,
                "alert": alert.pk if alert else None,
                "since": alert.started_at if alert else None,
                "observed": latest.observed if latest else None,
                "expected": latest.expected if latest else None,
            }
        )
    return out


def report_anomalies(start: datetime, end: datetime) -> dict[str, Any]:
    """The anomalies raised in ``[start, end)`` for the daily report (``reports.hooks``)."""
    alerts = (
        Alert.objects.filter(source=Alert.Source.ANOMALY, started_at__gte=start, started_at__lt=end)
        .select_related("detector")
        .order_by("started_at", "pk")
    )
    items = [
        {
            "summary": f"{timezone.localtime(alert.started_at):%H:%M %Z} {alert.summary}",
            "detector": alert.rule_name,
            "at": alert.started_at.isoformat(),
            "observed": alert.details.get("observed"),
            "expected": alert.details.get("expected"),
            "resolved_at": alert.resolved_at.isoformat() if alert.resolved_at else None,
        }
        for alert in alerts
    ]
    enabled = AnomalyDetector.objects.filter(enabled=True).exists()
    return {"enabled": enabled or bool(items), "items": items}


def default_since(now: datetime | None = None) -> datetime:
    return (now or timezone.now()) - timedelta(hours=24)
