"""External alerts through the lifecycle: opened firing, refreshed, resolved by ``endsAt``.

Each alert's identity is its labels (the fingerprint of source ``external``, the built-in
``external`` rule and the labels, as Alertmanager fingerprints labels): a sender repeating a
firing alert every minute keeps one open alert, whose ``ends_at`` moves on with each repeat.
An ``endsAt`` in the past resolves it; an alert the sender stops repeating resolves when its
``ends_at`` passes (the ``alerts.external.expire`` job), as in Alertmanager. Routing, silences,
escalation and the cooldown are those of every alert, configured on the ``external`` rule
(channels, policy, default severity); a ``severity`` label naming one of ours overrides the
default.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from alerts import actors
from alerts.intake.parsing import ExternalAlert
from alerts.models import Alert, AlertEvent, Rule
from alerts.models.alerts import fingerprint_for
from alerts.services import close_alert, record_event
from alerts.severity import Severity

logger = logging.getLogger(__name__)

EXTERNAL = "external"
EXPIRE_BATCH = 200

EXTERNAL_RULE: dict[str, Any] = {
    "slug": EXTERNAL,
    "name": "External alerts",
    "description": (
        "Alerts that Prometheus or vmalert send to POST /api/v2/alerts (source external). "
        "Their channels, escalation policy and default severity are set here."
    ),
    "expression": "",
    "operator": "==",
    "threshold": 0,
    "severity": "warning",
    "channels": ["email", "slack", "pagerduty"],
    "for_seconds": 0,
    "cooldown_seconds": 0,
    "builtin": True,
    "summary": "{labels.alertname}",
    "description_text": "An alert from an external alerting engine.",
}


class IntakeUnavailable(Exception):
    """The ``external`` rule is missing (bootstrap has not run): nothing can be accepted."""


@dataclass
class IntakeOutcome:
    """What became of each posted alert, by what happened to it."""

    opened: list[int] = field(default_factory=list)
    refreshed: list[int] = field(default_factory=list)
    resolved: list[int] = field(default_factory=list)
    # Resolved by the sender but not open here (resolved already, or never seen firing).
    unknown_resolved: int = 0
    # Firing, but the external rule is disabled: not opened.
    disabled: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "opened": len(self.opened),
            "refreshed": len(self.refreshed),
            "resolved": len(self.resolved),
            "resolved_not_open": self.unknown_resolved,
            "ignored_rule_disabled": self.disabled,
        }


def external_rule() -> Rule | None:
    return Rule.objects.filter(slug=EXTERNAL, builtin=True).first()


def fingerprint_of(rule: Rule, labels: dict[str, str]) -> str:
    return fingerprint_for(Alert.Source.EXTERNAL, str(rule.pk), labels)


def receive_alerts(
    *, alerts: list[ExternalAlert], actor: str, now: datetime | None = None
) -> IntakeOutcome:
    """Apply each posted alert in its own transaction (one alert's race never undoes another's)."""
    rule = external_rule()
    if rule is None:
        raise IntakeUnavailable("The built-in external rule is missing: run manage.py bootstrap.")
    now = now or timezone.now()
    outcome = IntakeOutcome()
    for alert in alerts:
        _receive_one(rule=rule, alert=alert, actor=actor, now=now, outcome=outcome)
    return outcome


@transaction.atomic
def _receive_one(
    *, rule: Rule, alert: ExternalAlert, actor: str, now: datetime, outcome: IntakeOutcome
) -> None:
    fingerprint = fingerprint_of(rule, alert.labels)
    current = (
        Alert.objects.select_for_update(of=("self",))
        .select_related("rule")
        .filter(fingerprint=fingerprint, state__in=Alert.OPEN_STATES)
        .first()
    )
    if alert.ends_at is not None and alert.ends_at <= now:
        if current is None or alert.ends_at < current.started_at:  # a stale resolution
            outcome.unknown_resolved += 1
            return
        close_alert(
            alert=current,
            now=now,
            actor=actor,
            reason="resolved by the sender (endsAt)",
            details={"ends_at": alert.ends_at.isoformat()},
        )
        outcome.resolved.append(current.pk)
        return
    ends_at = alert.ends_at or now + settings.ALERT_INTAKE_RESOLVE_TIMEOUT
    if current is not None:
        _refresh(current, alert, ends_at)
        outcome.refreshed.append(current.pk)
        return
    if not rule.enabled:
        outcome.disabled += 1
        return
    opened = _open(rule=rule, alert=alert, fingerprint=fingerprint, ends_at=ends_at, now=now)
    if opened is None:  # another request opened it first: ours is a repeat
        outcome.refreshed.append(0)
        return
    record_event(alert=opened, kind=AlertEvent.Kind.FIRING, actor=actor, now=now)
    outcome.opened.append(opened.pk)


def _words(alert: ExternalAlert) -> tuple[str, str]:
    notes = alert.annotations
    summary = notes.get("summary") or notes.get("message") or notes.get("title") or ""
    return summary or alert.alertname or "External alert", notes.get("description", "")


def _details(alert: ExternalAlert) -> dict[str, Any]:
    return {"annotations": alert.annotations, "generator_url": alert.generator_url}


def _open(
    *, rule: Rule, alert: ExternalAlert, fingerprint: str, ends_at: datetime, now: datetime
) -> Alert | None:
    summary, description = _words(alert)
    severity = Severity.of(alert.labels.get("severity", "")) or rule.severity
    started = min(alert.starts_at, now) if alert.starts_at else now
    row = Alert(
        source=Alert.Source.EXTERNAL,
        rule=rule,
        fingerprint=fingerprint,
        labels={**{str(k): str(v) for k, v in (rule.labels or {}).items()}, **alert.labels},
        state=Alert.State.FIRING,
        severity=severity,
        rule_name=(alert.alertname or rule.name)[:200],
        rule_version=rule.version,
        summary=summary,
        description=description,
        details=_details(alert),
        started_at=started,
        fired_at=now,
        last_evaluated_at=now,
        ends_at=ends_at,
    )
    try:
        with transaction.atomic():
            row.save()
    except IntegrityError:
        return None
    return row


def _refresh(current: Alert, alert: ExternalAlert, ends_at: datetime) -> None:
    summary, description = _words(alert)
    current.ends_at = ends_at
    current.summary, current.description = summary, description
    current.details = {**(current.details or {}), **_details(alert)}
    current.save(update_fields=["ends_at", "summary", "description", "details"])


def expire_external_alerts(*, now: datetime | None = None) -> int:
    """Resolve open external alerts whose ``ends_at`` passed without a repeat from the sender."""
    now = now or timezone.now()
    expired = 0
    while True:
        with transaction.atomic():
            rows = list(
                Alert.objects.select_for_update(of=("self",), skip_locked=True)
                .select_related("rule")
                .filter(
                    source=Alert.Source.EXTERNAL,
                    state__in=Alert.OPEN_STATES,
                    ends_at__lte=now,
                )
                .order_by("ends_at", "pk")[:EXPIRE_BATCH]
            )
            for row in rows:
                close_alert(
                    alert=row,
                    now=now,
                    actor=actors.INTAKE,
                    reason="not repeated by the sender before endsAt",
                    details={"ends_at": row.ends_at.isoformat() if row.ends_at else None},
                )
        expired += len(rows)
        if len(rows) < EXPIRE_BATCH:
            return expired
