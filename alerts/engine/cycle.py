"""The evaluation cycle: every enabled rule at one instant, then each rule's state machine.

A cycle claims the evaluation lease (:mod:`alerts.engine.lease`); a cycle that starts while the
previous one still holds it is recorded as skipped instead of piling up. An operator running
``evaluate_rules`` by hand while a cycle runs is serialised per rule by
:mod:`alerts.engine.lifecycle`.
"""

from __future__ import annotations

import functools
import logging
import math
import os
import socket
import time
import uuid
from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection
from django.utils import timezone

from alerts.engine.lease import claim_lease, release_lease
from alerts.engine.lifecycle import RuleOutcome, apply_evaluation, error_text
from alerts.language import RuleError, evaluate_many, parse
from alerts.language.backends import BackendError
from alerts.models import Alert, EvaluationCycle, Rule

logger = logging.getLogger(__name__)


def scheduled_boundary(now: datetime) -> datetime:
    """The interval boundary ``now`` belongs to (what the evaluator's grid meant to start at)."""
    interval = settings.RULE_EVALUATION_INTERVAL_SECONDS
    epoch = math.floor(now.timestamp())
    # A naive ``now`` is read on the local clock by timestamp(), so it comes back on that clock.
    return datetime.fromtimestamp(epoch - epoch % interval, tz=now.tzinfo)


def run_cycle(
    now: datetime | None = None,
    *,
    at: datetime | None = None,
    due: datetime | None = None,
    rule_ids: Collection[int] | None = None,
    reason: str = EvaluationCycle.Reason.SCHEDULE,
    holder: str | None = None,
) -> EvaluationCycle:
    """Evaluate the enabled rules (``rule_ids`` of them, if given) at their scheduled instant.

    The instant is ``at`` (a replay or a test), else ``due`` (what the evaluator planned: a grid
    instant, a pending alert's end of ``for``, samples' arrival plus the debounce), else the
    interval boundary of ``now``. Evaluating at the scheduled instant rather than whenever the
    process got to it keeps ``for`` exact: the instants of a rule's evaluations are the grid's.
    The lag recorded is ``now`` (default: the clock) minus that instant. A cycle that finds the
    evaluation lease held is recorded as skipped.
    """
    now = now or timezone.now()
    scheduled = at or due or scheduled_boundary(now)
    holder = holder or uuid.uuid4().hex
    base = {
        "started_at": now,
        "scheduled_for": scheduled,
        "lag_ms": (now - scheduled).total_seconds() * 1000,
        "host": socket.gethostname()[:255],
        "pid": os.getpid(),
        "reason": reason,
    }
    if not claim_lease(holder=holder, now=now):
        logger.warning("evaluation skipped: the previous cycle still runs")
        return EvaluationCycle.objects.create(
            **base, skipped=True, finished_at=now, duration_ms=0.0
        )
    cycle = EvaluationCycle.objects.create(**base)
    clock = time.perf_counter()
    try:
        _evaluate_all(cycle, scheduled, rule_ids)
    except Exception as exc:
        logger.exception("evaluation cycle failed", extra={"cycle": cycle.pk})
        cycle.error = error_text(exc)
    finally:
        release_lease(holder=holder)
        cycle.duration_ms = (time.perf_counter() - clock) * 1000
        cycle.finished_at = now + timedelta(milliseconds=cycle.duration_ms)
        cycle.save(
            update_fields=["duration_ms", "finished_at", "rules", "errors", "changes", "error"]
        )
    return cycle


def evaluable_rules(rule_ids: Collection[int] | None = None) -> list[Rule]:
    rules = Rule.objects.filter(enabled=True, builtin=False)
    if rule_ids is not None:
        rules = rules.filter(pk__in=list(rule_ids))
    return list(rules.order_by("pk"))


def _evaluate_all(cycle: EvaluationCycle, now: datetime, rule_ids: Collection[int] | None) -> None:
    rules = evaluable_rules(rule_ids)
    cycle.rules = len(rules)
    results = evaluate_rules(rules, now=now)
    open_by_rule = open_alerts_by_rule(rule_ids)
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
            outcome = RuleOutcome(error=error_text(exc))
        cycle.changes += outcome.changes
        cycle.errors += bool(outcome.error)
        outcomes.append(outcome)
    store_outcomes(rules, outcomes, now=now)
    cycle.error = backend_failure(results)


BACKEND_FAILURE = "metrics backend"


def backend_failure(results: Sequence[tuple[Any, Any]]) -> str:
    """The cycle's error when the metrics backend failed some reads ('' when it did not).

    Each rule that read through the failure already holds it as its own error, and its alerts
    are left as they were (an error is never "the condition is false"); the cycle's error fails
    the job too, which raises the self-alerts.
    """
    failed = [item for pair in results for item in pair if isinstance(item, BackendError)]
    if not failed:
        return ""
    rules = sum(any(isinstance(item, BackendError) for item in pair) for pair in results)
    return f"{BACKEND_FAILURE}: {rules} of {len(results)} rules not evaluated: {failed[0].message}"


def open_alerts_by_rule(rule_ids: Collection[int] | None = None) -> dict[int, dict[str, Alert]]:
    """Every open rule alert (of ``rule_ids``), by rule and fingerprint (one query, no lock)."""
    found: dict[int, dict[str, Alert]] = {}
    alerts = Alert.objects.filter(source=Alert.Source.RULE, state__in=Alert.OPEN_STATES)
    if rule_ids is not None:
        alerts = alerts.filter(rule_id__in=list(rule_ids))
    for alert in alerts:
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

    return parse(text)


def _pick(values: list[Any], item: Any) -> Any:
    if isinstance(item, int):
        return values[item]
    return item
