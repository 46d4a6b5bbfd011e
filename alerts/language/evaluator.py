"""Evaluation: many expressions at one instant, each distinct leaf read once.

``evaluate_many`` walks every tree, collects the distinct leaves (a selector with its window and
offset, and the range function over it), has the metrics backend read them
(:mod:`alerts.language.backends`: one query per selector group, embedded or Prometheus), then
computes every expression from the leaves in memory. A run-time error of one expression (e.g.
duplicate series on one side of a vector match, or a leaf the backend could not give) lands in
that expression's slot.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from django.utils import timezone

from alerts.language import functions as fn
from alerts.language.backends import LeafValues, MetricsBackend, leaves_of, metrics_backend
from alerts.language.errors import RuleError
from alerts.language.reading import parse
from alerts.language.tree import (
    Aggregation,
    BinaryOp,
    Call,
    Expr,
    NumberLiteral,
    Sample,
    Scalar,
    Selector,
    UnaryOp,
    Vector,
    VectorMatching,
)

logger = logging.getLogger(__name__)

MAX_BACKTEST_STEPS = 10_000
Result = Scalar | Vector


def _parse(expr: Expr | str) -> Expr:
    if isinstance(expr, str):
        return parse(expr)
    return expr


def _aware(at: datetime) -> datetime:
    if timezone.is_naive(at):
        raise ValueError("evaluation instants must be timezone-aware")
    return at.astimezone(UTC)


def evaluate_many(
    exprs: Sequence[Expr | str], *, at: datetime, backend: MetricsBackend | None = None
) -> list[Result | RuleError]:
    """Evaluate ``exprs`` at ``at``: one query per distinct leaf, errors returned in their slot."""
    at = _aware(at)
    trees: list[Expr | RuleError] = []
    for expr in exprs:
        try:
            trees.append(_parse(expr))
        except RuleError as exc:
            trees.append(exc)
    leaves = leaves_of(t for t in trees if not isinstance(t, RuleError))
    values = (backend or metrics_backend()).read(leaves, at=at)
    results: list[Result | RuleError] = []
    evaluation = Evaluation(values)  # shared: subexpressions common to several rules run once
    for tree in trees:
        if isinstance(tree, RuleError):
            results.append(tree)
            continue
        try:
            results.append(evaluation.result(tree))
        except RuleError as exc:
            results.append(exc)
    return results


def evaluate(expr: Expr | str, *, at: datetime, backend: MetricsBackend | None = None) -> Result:
    """Evaluate one expression at ``at``; raises :class:`RuleError` when it is invalid."""
    result = evaluate_many([_parse(expr)], at=at, backend=backend)[0]
    if isinstance(result, RuleError):
        raise result
    return result


def backtest(
    expr: Expr | str,
    *,
    start: datetime,
    end: datetime,
    step: timedelta,
    backend: MetricsBackend | None = None,
) -> list[tuple[datetime, Result]]:
    """``expr`` evaluated at ``start``, ``start + step``, ... up to ``end`` from stored history."""
    tree = _parse(expr)
    start, end = _aware(start), _aware(end)
    if step <= timedelta(0):
        raise RuleError("the backtest step must be positive")
    if end < start:
        raise RuleError("the backtest ends before it starts")
    steps = int((end - start) / step) + 1
    if steps > MAX_BACKTEST_STEPS:
        raise RuleError(f"a backtest may have at most {MAX_BACKTEST_STEPS} steps, not {steps}")

    reads = (backend or metrics_backend()).read_range(
        leaves_of([tree]), start=start, step=step, steps=steps
    )
    return [
        (start + index * step, Evaluation(values).result(tree))
        for index, values in enumerate(reads)
    ]


class Evaluation:
    """Computes trees from fetched leaves; pure, no queries.

    Results of subexpressions are remembered (equal subtrees are equal nodes), so rules that
    share ``sum by (service) (rate(x[5m]))`` compute it once. Intermediate samples are never
    modified in place; each returned result gets its own copies.
    """

    def __init__(self, values: LeafValues) -> None:
        self.values = values
        self.memo: dict[Expr, float | list[Sample]] = {}

    def result(self, expr: Expr) -> Result:
        value = self.value_of(expr)
        if isinstance(value, list):
            return Vector([Sample(dict(s.labels), s.value) for s in value])
        return Scalar(value)

    def value_of(self, expr: Expr) -> float | list[Sample]:
        if isinstance(expr, NumberLiteral):
            return expr.value
        try:
            return self.memo[expr]
        except KeyError:
            pass
        value = self.compute(expr)
        self.memo[expr] = value
        return value

    def compute(self, expr: Expr) -> float | list[Sample]:
        if isinstance(expr, Selector):
            return self.values.samples(None, expr)
        if isinstance(expr, Call):
            return self.call(expr)
        if isinstance(expr, Aggregation):
            samples = self.vector(expr.expr)
            return fn.aggregate(expr.op, samples, expr.grouping, expr.without)
        if isinstance(expr, UnaryOp):
            value = self.value_of(expr.expr)
            if isinstance(value, list):
                return [Sample(s.labels, -s.value) for s in value]
            return -value
        if isinstance(expr, BinaryOp):
            return self.binary(expr)
        raise RuleError(f"cannot evaluate {type(expr).__name__}")

    def vector(self, expr: Expr) -> list[Sample]:
        value = self.value_of(expr)
        if not isinstance(value, list):
            raise RuleError("expected an instant vector, got a scalar")
        return value

    def scalar(self, expr: Expr) -> float:
        value = self.value_of(expr)
        if isinstance(value, list):
            raise RuleError("expected a scalar, got an instant vector")
        return value

    def call(self, call: Call) -> float | list[Sample]:
        name, args = call.func, call.args
        if name == "histogram_quantile":
            return fn.histogram_quantile(self.scalar(args[0]), self.vector(args[1]))
        if name in ("clamp_min", "clamp_max"):
            bound, low = self.scalar(args[1]), name == "clamp_min"
            return [
                Sample(s.labels, fn.clamp(s.value, bound, low=low)) for s in self.vector(args[0])
            ]
        if name == "abs":
            value = self.value_of(args[0])
            if isinstance(value, list):
                return [Sample(s.labels, abs(s.value)) for s in value]
            return abs(value)
        selector = args[0]
        if not isinstance(selector, Selector) or selector.window is None:
            raise RuleError(f"{name}() needs a range vector")
        if name == "predict_linear":
            return self.predict_linear(selector, self.scalar(args[1]))
        return self.values.samples(name, selector)

    def predict_linear(self, selector: Selector, seconds: float) -> list[Sample]:
        """The line's value now plus its slope times ``seconds`` (two leaves, as PromQL fits)."""
        slopes = {fn.key_of(s.labels): s.value for s in self.values.samples("deriv", selector)}
        out = []
        for sample in self.values.samples("predict_linear", selector):
            slope = slopes.get(fn.key_of(sample.labels))
            if slope is not None:
                out.append(Sample(sample.labels, sample.value + slope * seconds))
        return out

    def binary(self, expr: BinaryOp) -> float | list[Sample]:
        lhs, rhs = self.value_of(expr.lhs), self.value_of(expr.rhs)
        if isinstance(lhs, list):
            if isinstance(rhs, list):
                return _match(expr.op, lhs, rhs, expr.matching)
            return [Sample(s.labels, fn.apply(expr.op, s.value, rhs)) for s in lhs]
        if isinstance(rhs, list):
            return [Sample(s.labels, fn.apply(expr.op, lhs, s.value)) for s in rhs]
        return fn.apply(expr.op, lhs, rhs)


def _signature(labels: dict[str, str], matching: VectorMatching | None) -> tuple:
    if matching is None:
        return fn.key_of(labels)
    if matching.on:
        return tuple((k, labels.get(k, "")) for k in sorted(matching.labels))
    return fn.key_of({k: v for k, v in labels.items() if k not in matching.labels})


def _result_labels(labels: dict[str, str], matching: VectorMatching | None) -> dict[str, str]:
    if matching is None:
        return dict(labels)
    if matching.on:
        return {k: labels[k] for k in matching.labels if k in labels}
    return {k: v for k, v in labels.items() if k not in matching.labels}


def _match(
    op: str, lhs: list[Sample], rhs: list[Sample], matching: VectorMatching | None
) -> list[Sample]:
    """One-to-one vector matching, as PromQL does it without group_left/group_right."""
    right: dict[tuple, Sample] = {}
    for sample in rhs:
        signature = _signature(sample.labels, matching)
        if signature in right:
            raise RuleError(
                f"found duplicate series for the match group {dict(signature)} on the right-hand "
                "side of the operation; use on(...) or ignoring(...), or aggregate first"
            )
        right[signature] = sample
    out: list[Sample] = []
    seen: set[tuple] = set()
    for sample in lhs:
        signature = _signature(sample.labels, matching)
        other = right.get(signature)
        if other is None:
            continue
        if signature in seen:
            raise RuleError(
                f"multiple matches for labels {dict(signature)} on the left-hand side; "
                "many-to-one matching is not supported: aggregate first"
            )
        seen.add(signature)
        value = fn.apply(op, sample.value, other.value)
        out.append(Sample(_result_labels(sample.labels, matching), value))
    return out
