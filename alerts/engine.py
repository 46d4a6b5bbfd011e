"""The evaluation cycle: every enabled rule at one instant, then each rule's alert state machine.

A cycle claims the evaluation lease with a conditional UPDATE; a cycle that starts while the
previous one still holds it is recorded as skipped instead of piling up. Each rule's alerts are
changed in one transaction under a lock on the rule's row, so two evaluators that overlap (a
lease expired under a slow cycle, an operator running ``evaluate_rules`` by hand) serialise per
rule and the second finds nothing left to change; the partial unique constraint on open
fingerprints is the last line.
"""

from __future__ import annotations

import functools
import logging
import math
import os
import socket
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from alerts.models import Alert, EvaluationCycle, EvaluationLease, Rule
from alerts.models.alerts import fingerprint_for
from alerts.services import close_alert, fire_alert, open_alert

logger = logging.getLogger(__name__)

LEASE_NAME = "evaluation"
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


def _error_text(error: Any) -> str:
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
        return RuleOutcome(error=_error_text(result))
    if rule.has_guard() and _is_error(guard):
        return RuleOutcome(error="volume guard: " + _error_text(guard))
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
        _transition(locked, _holding(locked, samples, guard), now, outcome, no_data=not samples)
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
) -> None:
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
    for alert in open_alerts.values():
        _no_longer_holds(rule, alert, now, outcome)


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


def _no_longer_holds(rule: Rule, alert: Alert, now: datetime, outcome: RuleOutcome) -> None:
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
        close_alert(alert=alert, now=now, reason="condition false")
    outcome.changes += 1
    outcome.transitions.append((alert.fingerprint, Alert.State.RESOLVED))


# --- the cycle -----------------------------------------------------------------------------------


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


def scheduled_boundary(now: datetime) -> datetime:
    """The interval boundary ``now`` belongs to (what the schedule meant to start at)."""
    interval = settings.RULE_EVALUATION_INTERVAL_MINUTES * 60
    epoch = int(now.timestamp())
    # A naive ``now`` is read on the local clock by timestamp(), so it comes back on that clock.
    return datetime.fromtimestamp(epoch - epoch % interval, tz=now.tzinfo)


def run_cycle(*, now: datetime | None = None) -> EvaluationCycle:
    """Evaluate every enabled rule at ``now`` (default: the clock), or record a skipped cycle."""
    now = now or timezone.now()
    scheduled = scheduled_boundary(now)
    holder = uuid.uuid4().hex
    base = {
        "started_at": now,
        "scheduled_for": scheduled,
        "lag_ms": (now - scheduled).total_seconds() * 1000,
        "host": socket.gethostname()[:255],
        "pid": os.getpid(),
    }
    if not claim_lease(holder=holder, now=now):
        logger.warning("evaluation skipped: the previous cycle still runs")
        return EvaluationCycle.objects.create(
            **base, skipped=True, finished_at=now, duration_ms=0.0
        )
    cycle = EvaluationCycle.objects.create(**base)
    clock = time.perf_counter()
    try:
        _evaluate_all(cycle, now)
    except Exception as exc:
        logger.exception("evaluation cycle failed", extra={"cycle": cycle.pk})
        cycle.error = _error_text(exc)
    finally:
        release_lease(holder=holder)
        cycle.duration_ms = (time.perf_counter() - clock) * 1000
        cycle.finished_at = now + timedelta(milliseconds=cycle.duration_ms)
        cycle.save(
            update_fields=["duration_ms", "finished_at", "rules", "errors", "changes", "error"]
        )
    return cycle


def evaluable_rules() -> list[Rule]:
    return list(Rule.objects.filter(enabled=True, builtin=False).order_by("pk"))


def _evaluate_all(cycle: EvaluationCycle, now: datetime) -> None:
    rules = evaluable_rules()
    cycle.rules = len(rules)
    results = evaluate_rules(rules, now=now)
    open_by_rule = open_alerts_by_rule()
    outcomes: list[RuleOutcome] = []
    for rule, (result, guard) in zip(rules, results, strict=True):
        try:
            outcome = apply_evaluation(
                rule=rule,
                result=result,
                guard=guard,
                now=now,
                open_alerts=open_by_rule.get(rule.pk, {}),
            )
        except Exception as exc:  # one rule's failure never stops the others
            logger.exception("rule evaluation failed", extra={"rule": rule.slug})
            outcome = RuleOutcome(error=_error_text(exc))
        cycle.changes += outcome.changes
        cycle.errors += bool(outcome.error)
        outcomes.append(outcome)
    store_outcomes(rules, outcomes, now=now)


def open_alerts_by_rule() -> dict[int, dict[str, Alert]]:
    """Every open rule alert, by rule and fingerprint (one query, no lock)."""
    found: dict[int, dict[str, Alert]] = {}
    for alert in Alert.objects.filter(source=Alert.Source.RULE, state__in=Alert.OPEN_STATES):
        if alert.rule_id is not None:  # the alerts of a deleted rule belong to no rule
            found.setdefault(alert.rule_id, {})[alert.fingerprint] = alert
    return found


def store_outcomes(
    rules: Sequence[Rule], outcomes: Sequence[RuleOutcome], *, now: datetime
) -> None:
    """Write each rule's last value, sample count and error in a few statements.

    Plain UPDATEs (no save(), so no edit-history row: these are not edits): one for the time of
    evaluation, one for the rules that failed, and CASE updates in batches for the rules whose
    figures changed since the cycle read them (Django's bulk_update builds the same statement
    but spends ~1 ms of Python per row on it).
    """
    ids = [rule.pk for rule in rules]
    Rule.objects.filter(pk__in=ids).update(last_evaluated_at=now)
    failed = [rule.pk for rule, outcome in zip(rules, outcomes, strict=True) if outcome.error]
    if failed:
        Rule.objects.filter(pk__in=failed).update(last_error_at=now)
    changed = [
        (rule.pk, outcome)
        for rule, outcome in zip(rules, outcomes, strict=True)
        if (rule.last_value, rule.last_sample_count, rule.last_error)
        != (_storable(outcome.value), outcome.samples, outcome.error)
    ]
    for start in range(0, len(changed), 200):
        _update_figures(changed[start : start + 200])
    for rule, outcome in zip(rules, outcomes, strict=True):
        if outcome.error:
            logger.warning("rule error", extra={"rule": rule.slug, "error": outcome.error[:200]})


def _update_figures(batch: list[tuple[int, RuleOutcome]]) -> None:
    table = connection.ops.quote_name(Rule._meta.db_table)
    columns = {
        "last_value": ("DOUBLE PRECISION", lambda o: _storable(o.value)),
        "last_sample_count": ("INTEGER", lambda o: o.samples),
        "last_error": ("TEXT", lambda o: o.error),
    }
    assignments, params = [], []
    for column, (sql_type, pick) in columns.items():
        cases = " ".join(f"WHEN %s THEN CAST(%s AS {sql_type})" for _ in batch)
        assignments.append(f"{connection.ops.quote_name(column)} = CASE id {cases} END")
        for pk, outcome in batch:
            params += [pk, pick(outcome)]
    marks = ", ".join("%s" for _ in batch)
    sql = f"UPDATE {table} SET {', '.join(assignments)} WHERE id IN ({marks})"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, *(pk for pk, _ in batch)])


def _storable(value: float | None) -> float | None:
    # NaN and infinities are not portable through SQL parameters: store them as "no value".
    return value if value is not None and math.isfinite(value) else None


def evaluate_rules(rules: Sequence[Rule], *, now: datetime) -> list[tuple[Any, Any]]:
    """(result, guard result) per rule, in one pass of the rule language's evaluator.

    An expression that no longer parses (a metric was removed) becomes that rule's error.
    """
    from alerts.rules import RuleError, evaluate_many

    exprs: list[Any] = []
    slots: list[tuple[Any, Any]] = []
    for rule in rules:
        slot: list[int | RuleError | None] = []
        for text in (rule.expression, rule.min_volume_expression if rule.has_guard() else None):
            if text is None:
                slot.append(None)
                continue
            try:
                exprs.append(parsed(text))
                slot.append(len(exprs) - 1)
            except RuleError as exc:
                slot.append(exc)
        slots.append((slot[0], slot[1]))
    values = evaluate_many(exprs, at=now) if exprs else []
    return [tuple(_pick(values, item) for item in slot) for slot in slots]


@functools.lru_cache(maxsize=4096)
def parsed(text: str) -> Any:
    """The checked tree of ``text``, parsed once per process (a RuleError is not cached)."""
    from alerts.rules import parse

    return parse(text)


def _pick(values: list[Any], item: Any) -> Any:
    if isinstance(item, int):
        return values[item]
    return item
