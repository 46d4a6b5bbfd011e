"""The AlertMessage snapshot stored on an outbox row, and the links it carries."""

from __future__ import annotations

from dataclasses import asdict, fields
from datetime import datetime
from typing import Any

from django.conf import settings
from django.urls import reverse
from django.utils.dateparse import parse_datetime

from alerts.channels import AlertMessage
from alerts.models import Alert

_TIMES = ("started_at", "resolved_at")


def alert_url(alert_id: int) -> str:
    """Where people look at the alert: its page (chart, timeline, buttons; any viewer)."""
    return settings.SITE_URL + reverse("alert-page", args=[alert_id])


def message_for(alert: Alert, *, event: str, level: int | None = None) -> AlertMessage:
    """What the channels are told about ``alert`` for ``event`` (ack_url is added per row)."""
    return AlertMessage(
        alert_id=alert.pk,
        fingerprint=alert.fingerprint,
        event=event,
        rule_name=alert.rule_name,
        severity=alert.severity,
        labels={str(k): str(v) for k, v in (alert.labels or {}).items()},
        value=alert.value,
        threshold=alert.threshold,
        operator=alert.operator,
        summary=alert.summary,
        description=alert.description,
        started_at=alert.started_at,
        resolved_at=alert.resolved_at,
        acknowledged_by=alert.acknowledged_by_name,
        url=alert_url(alert.pk),
        ack_url=None,
        escalation_level=level,
        resolved_value=alert.resolved_value,
        fired_seconds=alert.fired_seconds,
        resolved_by=alert.resolved_by_name,
    )


def to_payload(message: AlertMessage) -> dict[str, Any]:
    data = asdict(message)
    for name in _TIMES:
        data[name] = data[name].isoformat() if data[name] else None
    return data


def from_payload(payload: dict[str, Any]) -> AlertMessage:
    names = {f.name for f in fields(AlertMessage)}
    data = {key: value for key, value in payload.items() if key in names}
    for name in _TIMES:
        raw = data.get(name)
        data[name] = _parse(raw) if raw else None
    return AlertMessage(**data)


def _parse(raw: str) -> datetime:
    parsed = parse_datetime(raw)
    if parsed is None:
        raise ValueError(f"not a timestamp: {raw!r}")
    return parsed
