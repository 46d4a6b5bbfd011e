"""Each rule's alert state machine: a rule's result -> pending, firing, resolved alerts.

Each rule's alerts are changed in one transaction under a lock on the rule's row, so two
evaluators that overlap serialise per rule and the second finds nothing left to change; the
partial unique constraint on open fingerprints is the last line.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import transaction

from alerts.models import Alert, Rule
from alerts.models.alerts import fingerprint_for
from alerts.services import close_alert, fire_alert, open_alert

logger = logging.getLogger(__name__)

NO_DATA_LABELS: dict[str, str] = {}


@dataclass
class RuleOutcome:
    """What one rule's evaluation did: state changes written, the value seen, an error."""

    changes: int = 0
    value: float | None = None
    samples: int = 0
    error: str = ""
    transitions: list[tuple[str, str]] = field(default_factory=list)


# --- reading results ------------------------------------------------------------------------------


def _is_error(result: Any) -> bool:
    return isinstance(result, Exception)


def samples_of(result: Any) -> list[tuple[dict[str, str], float]]:
    """A Scalar as one unlabelled sample, a Vector as its samples (empty: no data)."""
    if hasattr(result, "samples"):
        return [(dict(sample.labels), float(sample.value)) for sample in result.samples]
    return [({}, float(result.value))]


def error_text(error: Any) -> str:
    message = getattr(error, "message", "") or str(error)
    return f"{type(error).__name__}: {message}"[:2000]


def guard_value(result: Any) -> float | None:
    """The volume a guard measured: a scalar, one sample, or the total of several; None if empty."""
    if result is None or _is_error(result):
        return None
    values = [value for _, value in samples_of(result)]
    if not values:
        return None
    return values[0] if len(values) == 1 else math.fsum(values)


def guard_passes(rule: Rule, guard: Any) -> bool:
    if not rule.has_guard():
        return True
    volume = guard_value(guard)
    if volume is None or math.isnan(volume):
        return False
    return volume >= (rule.min_volume or 0.0)


def _summarise(samples: list[tuple[dict[str, str], float]]) -> float | None:
    finite = [value for _, value in samples if not math.isnan(value)]
    return max(finite) if finite else None


# --- the state machine ---------------------------------------------------------------------------


def apply_evaluation(
    *,
    rule: Rule,
    result: Any,
    guard: Any = None,
    now: datetime,
    open_alerts: dict[str, Alert] | None = None,
) -> RuleOutcome:
    """Move ``rule``'s alerts according to one evaluation result (Scalar, Vector or RuleError).

    ``open_alerts`` (the rule's open alerts by fingerprint, read by the cycle without a lock)
    lets a rule with nothing to change return without a transaction: the common case. Whenever
    something may change, the decision is taken again under the lock on the rule's row.
    """
    if _is_error(result):
        return RuleOutcome(error=error_text(result))
    if rule.has_guard() and _is_error(guard):
        return RuleOutcome(error="volume guard: " + error_text(guard))
    samples = samples_of(result)
    outcome = RuleOutcome(value=_summarise(samples), samples=len(samples))
    if not samples and rule.no_data == Rule.NoData.KEEP_STATE:
        return outcome
    if open_alerts is not None and not _changes(
        rule, _holding(rule, samples, guard), open_alerts, now
    ):
        return outcome
    with transaction.atomic():
        locked = Rule.objects.select_for_update().filter(pk=rule.pk).first()
        # Disabled or deleted (its alerts resolved) while this cycle evaluated it: nothing opens.
        if locked is None or not locked.enabled:
            return outcome
        current = {_fingerprint(locked, labels): value for labels, value in samples}
        holding = _holding(locked, samples, guard)
        _transition(locked, holding, now, outcome, no_data=not samples, current=current)
    return outcome


def _changes(
    rule: Rule,
    holding: dict[str, tuple[dict[str, str], float | None]],
    open_alerts: dict[str, Alert],
    now: datetime,
) -> bool:
    """Whether evaluating ``holding`` against ``open_alerts`` would write anything."""
    for fingerprint, (_labels, value) in holding.items():
        alert = open_alerts.get(fingerprint)
        if alert is None or alert.condition_false_since is not None or alert.value != value:
            return True
        if alert.state == Alert.State.PENDING and now - alert.started_at >= rule.for_duration:
            return True
        if alert.summary != rule.render("summary", value=value, labels=alert.labels):
            return True
        if alert.description != rule.render("description", value=value, labels=alert.labels):
            return True
    for fingerprint, alert in open_alerts.items():
        if fingerprint in holding:
            continue
        since = alert.condition_false_since
        if alert.state == Alert.State.PENDING or since is None:
            return True
        if now - since >= rule.keep_firing_for:
            return True
    return False


def _holding(
    rule: Rule, samples: list[tuple[dict[str, str], float]], guard: Any
) -> dict[str, tuple[dict[str, str], float | None]]:
    """The label sets whose condition holds, by fingerprint."""
    if not samples:
        if rule.no_data == Rule.NoData.ALERTING:
            return {_fingerprint(rule, NO_DATA_LABELS): (dict(NO_DATA_LABELS), None)}
        return {}
    if not guard_passes(rule, guard):
        return {}
    return {
        _fingerprint(rule, labels): (labels, value)
        for labels, value in samples
        if rule.holds(value)
    }


def _fingerprint(rule: Rule, labels: dict[str, str]) -> str:
    return fingerprint_for(Alert.Source.RULE, str(rule.pk), labels)


def _transition(
    rule: Rule,
    holding: dict[str, tuple[dict[str, str], float | None]],
    now: datetime,
    outcome: RuleOutcome,
    *,
    no_data: bool,
    current: dict[str, float] | None = None,
) -> None:
    """Open, update, fire and resolve; ``current`` is every label set's value, holding or not."""
    open_alerts = {
        alert.fingerprint: alert
        for alert in Alert.objects.select_related("rule").filter(
            rule=rule, source=Alert.Source.RULE, state__in=Alert.OPEN_STATES
        )
    }
    for fingerprint, (labels, value) in holding.items():
        alert = open_alerts.pop(fingerprint, None)
        if alert is None:
            _open(rule, labels, value, now, outcome, no_data=no_data)
        else:
            _still_holds(rule, alert, value, now, outcome)
    for fingerprint, alert in open_alerts.items():
        _no_longer_holds(rule, alert, now, outcome, value=(current or {}).get(fingerprint))


def _merged_labels(rule: Rule, labels: dict[str, str]) -> dict[str, str]:
    # The rule's own labels win over the series' (as in Prometheus); the fingerprint uses the
    # series' labels only, so editing a rule's labels does not reopen its alerts.
    return {**labels, **{str(k): str(v) for k, v in (rule.labels or {}).items()}}


def _open(
    rule: Rule,
    labels: dict[str, str],
    value: float | None,
    now: datetime,
    outcome: RuleOutcome,
    *,
    no_data: bool,
) -> None:
    alert = open_alert(
        rule=rule,
        source=Alert.Source.RULE,
        labels=_merged_labels(rule, labels),
        identity=labels,
        value=value,
        now=now,
        details={"no_data": True} if no_data else {},
    )
    if alert is not None:
        outcome.changes += 2 if alert.state == Alert.State.FIRING else 1
        outcome.transitions.append((alert.fingerprint, alert.state))


def _still_holds(
    rule: Rule, alert: Alert, value: float | None, now: datetime, outcome: RuleOutcome
) -> None:
    summary = rule.render("summary", value=value, labels=alert.labels)
    description = rule.render("description", value=value, labels=alert.labels)
    figures = (value, None, summary, description)
    if (alert.value, alert.condition_false_since, alert.summary, alert.description) != figures:
        # Written only when something moved: a steady alert costs no UPDATE per cycle.
        alert.value, alert.condition_false_since, alert.summary, alert.description = figures
        alert.last_evaluated_at = now
        alert.save(
            update_fields=[
                "value",
                "last_evaluated_at",
                "condition_false_since",
                "summary",
                "description",
            ]
        )
    if alert.state == Alert.State.PENDING and now - alert.started_at >= rule.for_duration:
        fire_alert(alert=alert, now=now)
        outcome.changes += 1
        outcome.transitions.append((alert.fingerprint, Alert.State.FIRING))


def _no_longer_holds(
    rule: Rule, alert: Alert, now: datetime, outcome: RuleOutcome, *, value: float | None = None
) -> None:
    if alert.state == Alert.State.PENDING:
        # It never fired: nobody was told, so it closes at once whatever keep_firing_for says.
        close_alert(alert=alert, now=now, reason="condition false before firing")
    else:
        since = alert.condition_false_since or now
        if now - since < rule.keep_firing_for:
            if alert.condition_false_since is None:
                alert.condition_false_since = now
                alert.save(update_fields=["condition_false_since"])
            return
        close_alert(alert=alert, now=now, reason="condition false", value=value)
    outcome.changes += 1
    outcome.transitions.append((alert.fingerprint, Alert.State.RESOLVED))
