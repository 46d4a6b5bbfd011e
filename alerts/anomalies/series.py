"""A detector's series: its expression's value at each 5-minute step.

A step ``[s, s + 5m)`` is valued by evaluating the expression at its last second, so each window
``[w]`` ends with the step (the windows of a detector are whole multiples of 5 minutes, checked
on save). The history a fit needs (weeks of steps) is read from the 5-minute rollups, one query
per selector, and each step folded in memory (:class:`RollupLeaf`), or, with
``METRICS_BACKEND=prometheus``, asked of the backend with one range query per selector group
(:func:`backend_history`); the few new steps a scoring
run needs are evaluated like a rule (``evaluate_many``: one query per distinct selector and step,
shared by every detector), which reads the minute buckets those rollups are made of, so a new step
is scored without waiting for the aggregation job.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from alerts.anomalies.method import STEP_SECONDS, History
from alerts.language import Expr, RuleError, Scalar, Vector, evaluate_many
from alerts.language.backends import POINT_FUNCTIONS, StoredValues, leaves_of, metrics_backend
from alerts.language.backtest import LeafHistory
from alerts.language.evaluator import Evaluation
from alerts.language.tree import Selector, walk
from metrics_app.backend import uses_prometheus
from metrics_app.models import Rollup
from metrics_app.selectors import series_rollups

STEP = timedelta(seconds=STEP_SECONDS)


class SeveralSeries(RuleError):
    """The expression gives more than one series: a detector follows exactly one."""


def step_start(moment: datetime) -> datetime:
    """The start of the 5-minute step holding ``moment``."""
    epoch = math.floor(moment.timestamp())
    return datetime.fromtimestamp(epoch - epoch % STEP_SECONDS, tz=UTC)


def steps_between(start: datetime, end: datetime) -> list[datetime]:
    """Starts of the whole steps in ``[start, end)`` (``start`` rounded up to a step)."""
    first = step_start(start)
    if first < start:
        first += STEP
    count = max(0, int((end - first) / STEP))
    return [first + index * STEP for index in range(count) if first + (index + 1) * STEP <= end]


def instant_of(step: datetime) -> datetime:
    """Where a step is evaluated: its last second (its windows end with it)."""
    return step + STEP - timedelta(seconds=1)


def value_of(result: Scalar | Vector) -> float:
    """One number from a result: no series is no data (NaN); several are refused."""
    if isinstance(result, Scalar):
        return float(result.value)
    if not result.samples:
        return math.nan
    if len(result.samples) > 1:
        raise SeveralSeries(
            f"the expression gives {len(result.samples)} series; a detector follows one: "
            "aggregate them (e.g. sum(...))"
        )
    return float(result.samples[0].value)


class RollupLeaf(LeafHistory):
    """A selector's 5-minute rollups over a whole history, read once, folded per step."""

    def read(self, series: QuerySet[Any], *, lo: datetime, hi: datetime) -> Iterator[tuple]:
        resolution = int(Rollup.Resolution.FIVE_MINUTES)
        return series_rollups(series, resolution=resolution, lo=lo, hi=hi)


def history(tree: Expr, *, start: datetime, end: datetime) -> History:
    """The expression at every step in ``[start, end)``, from the 5-minute rollups.

    A step without data is NaN (the method leaves it out).
    """
    steps = steps_between(start, end)
    if not steps:
        return History.of([], [])
    if uses_prometheus():
        return History.of([int(step.timestamp()) for step in steps], backend_history(tree, steps))
    selectors = {node.leaf_key(): node for node in walk(tree) if isinstance(node, Selector)}
    now = timezone.now()
    first, last = instant_of(steps[0]), instant_of(steps[-1])
    points = {leaf.group for leaf in leaves_of([tree]) if leaf.func in POINT_FUNCTIONS}
    leaves = {
        key: RollupLeaf(selector, first=first, last=last, now=now, points=key in points)
        for key, selector in selectors.items()
    }
    values = []
    for step in steps:
        at = instant_of(step)
        evaluation = Evaluation(
            StoredValues({key: leaf.at(at) for key, leaf in leaves.items()}, at=at)
        )
        values.append(value_of(evaluation.result(tree)))
    return History.of([int(step.timestamp()) for step in steps], values)


def backend_history(tree: Expr, steps: Sequence[datetime]) -> list[float]:
    """The expression at every step, read from the metrics backend (``METRICS_BACKEND=prometheus``):
    one range query per selector group over the whole history, at the steps' instants."""
    reads = metrics_backend().read_range(
        leaves_of([tree]), start=instant_of(steps[0]), step=STEP, steps=len(steps)
    )
    return [value_of(Evaluation(values).result(tree)) for values in reads]


def new_points(trees: Sequence[Expr], steps: Sequence[datetime]) -> list[list[float | RuleError]]:
    """Each tree's value at each step (rows: trees; columns: steps), one query per leaf and step.

    A tree's error at a step (several series, a run-time error) lands in its cell.
    """
    table: list[list[float | RuleError]] = [[] for _ in trees]
    for step in steps:
        results = evaluate_many(list(trees), at=instant_of(step))
        for row, result in zip(table, results, strict=True):
            if isinstance(result, RuleError):
                row.append(result)
                continue
            try:
                row.append(value_of(result))
            except RuleError as exc:
                row.append(exc)
    return table
