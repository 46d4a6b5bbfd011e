"""What a Prometheus or vmalert posts to an Alertmanager's ``/api/v2/alerts``, validated.

The body is a JSON array of alerts::

    [{"labels": {"alertname": "HighErrorRate", "service": "payment", "severity": "critical"},
      "annotations": {"summary": "...", "description": "..."},
      "startsAt": "2026-12-01T10:00:00.123Z", "endsAt": "2026-12-01T10:04:00Z",
      "generatorURL": "http://prometheus:9090/graph?g0.expr=..."}]

The whole array is checked before anything is stored; every bad alert is reported with its
index and field, and one bad alert refuses the request (400), as the metrics ingest does. Go's
zero time (``0001-01-01T00:00:00Z``) counts as absent, as Alertmanager reads it. Fields beyond
these five are ignored (Alertmanager ignores them too).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlparse

from monitoring_site.api.params import ParameterError, parse_datetime
from monitoring_site.text import unstorable_text

LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*\Z")
MAX_LABELS = 64
MAX_NAME = 128
MAX_LABEL_VALUE = 1024
MAX_ANNOTATION = 10_000
MAX_URL = 2048
GO_ZERO_YEAR = 1


class AlertError(ValueError):
    """One alert's problem, naming the field."""


@dataclass(frozen=True)
class ExternalAlert:
    """A validated alert from a sender: its identity (labels), words, times and origin."""

    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: datetime | None
    ends_at: datetime | None
    generator_url: str

    @property
    def alertname(self) -> str:
        return self.labels.get("alertname", "")


def parse_alerts(raw: Any) -> tuple[list[ExternalAlert], dict[str, str]]:
    """Validated alerts, and ``{index: "field: problem"}`` for the bad ones."""
    alerts: list[ExternalAlert] = []
    errors: dict[str, str] = {}
    for index, item in enumerate(raw):
        try:
            alerts.append(parse_alert(item))
        except AlertError as exc:
            errors[str(index)] = str(exc)
    return alerts, errors


def parse_alert(raw: Any) -> ExternalAlert:
    if not isinstance(raw, dict):
        raise AlertError("expected an object with labels, annotations, startsAt, endsAt")
    labels = _texts(raw.get("labels"), "labels", MAX_LABEL_VALUE, names=True)
    if not labels:
        raise AlertError("labels: required, at least one label (alertname)")
    annotations = _texts(raw.get("annotations"), "annotations", MAX_ANNOTATION, names=False)
    starts_at = _time(raw.get("startsAt"), "startsAt")
    ends_at = _time(raw.get("endsAt"), "endsAt")
    if starts_at is not None and ends_at is not None and ends_at < starts_at:
        raise AlertError("endsAt: before startsAt")
    return ExternalAlert(labels, annotations, starts_at, ends_at, _url(raw.get("generatorURL")))


def _texts(raw: Any, field: str, limit: int, *, names: bool) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise AlertError(f"{field}: expected an object of names to text")
    if len(raw) > MAX_LABELS:
        raise AlertError(f"{field}: more than {MAX_LABELS} entries")
    for name, value in raw.items():
        if len(name) > MAX_NAME:
            raise AlertError(f"{field}.{name[:MAX_NAME]}...: longer than {MAX_NAME} characters")
        if names and not LABEL_NAME.match(name):
            raise AlertError(f"{field}.{name}: not a label name ([a-zA-Z_][a-zA-Z0-9_]*)")
        if not isinstance(value, str):
            raise AlertError(f"{field}.{name}: expected text")
        problem = unstorable_text(name) or unstorable_text(value)
        if problem:
            raise AlertError(f"{field}.{name}: {problem}")
        if len(value) > limit:
            raise AlertError(f"{field}.{name}: longer than {limit} characters")
    # An empty label value is the same as no label (Prometheus' data model).
    return {name: value for name, value in raw.items() if value != "" or not names}


def _time(raw: Any, field: str) -> datetime | None:
    if raw is None or raw == "":
        return None
    if not isinstance(raw, str):
        raise AlertError(f"{field}: expected RFC 3339 text")
    try:
        at = parse_datetime(raw)
    except ParameterError as exc:
        raise AlertError(f"{field}: {exc}") from None
    return None if at.year == GO_ZERO_YEAR else at.astimezone(UTC)


def _url(raw: Any) -> str:
    if raw is None or raw == "":
        return ""
    if not isinstance(raw, str) or len(raw) > MAX_URL:
        raise AlertError(f"generatorURL: expected a URL of at most {MAX_URL} characters")
    parsed = urlparse(raw)
    if parsed.scheme not in ("http", "https") or not parsed.netloc or unstorable_text(raw):
        raise AlertError("generatorURL: expected an http or https URL")
    return raw
