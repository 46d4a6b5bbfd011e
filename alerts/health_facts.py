"""Facts the alerts app owns that health's pages show, handed over through ``health.hooks``.

Registered in ``AlertsConfig.ready()``: health reads them by name and never imports alerts.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.urls import reverse

from alerts.models import MaintenanceWindow
from alerts.pages.selectors import service_of
from alerts.selectors import active_alerts


def open_alerts(now: datetime) -> list[dict[str, Any]]:
    """Open alerts, the most severe first (``health.hooks.OPEN_ALERTS``)."""
    return [
        {
            "id": alert.pk,
            "rule": alert.rule_name,
            "severity": alert.severity,
            "state": alert.state,
            "since": alert.started_at,
            "labels": dict(alert.labels or {}),
            "service": service_of(alert),
            "summary": alert.summary,
            "acknowledged_by": alert.acknowledged_by_name,
            "url": reverse("alert-page", args=[alert.pk]),
        }
        for alert in active_alerts()
        if alert.started_at <= now
    ]


def maintenance_windows(now: datetime) -> list[dict[str, Any]]:
    """Maintenance windows in force at ``now`` (``health.hooks.MAINTENANCE_WINDOWS``); a
    recurring one inside an occurrence only, ending when that occurrence ends."""
    windows = MaintenanceWindow.objects.filter(starts_at__lte=now, ends_at__gt=now).order_by("pk")
    return [
        {"id": w.pk, "name": w.name, "services": list(w.services), "ends_at": w.active_until(now)}
        for w in windows
        if w.is_active(now)
    ]
