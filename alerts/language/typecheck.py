"""Type checking: scalars, instant vectors and range vectors, functions, metrics and labels.

Unknown metrics and functions, wrong argument counts and types are errors located at the node;
a label the catalogue does not know for a metric is a warning (admin-registered metrics may gain
labels before the catalogue says so).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field

from alerts.language.errors import RuleTypeError, located
from alerts.language.tree import (
    Aggregation,
    BinaryOp,
    Call,
    Expr,
    NumberLiteral,
    Selector,
    UnaryOp,
)
from metrics_app.catalogue import COUNTER, all_metrics, resolve_series_name

SCALAR, VECTOR, MATRIX = "scalar", "vector", "matrix"
_TYPE_NAMES = {SCALAR: "a scalar", VECTOR: "an instant vector", MATRIX: "a range vector"}

# name -> (argument types, counter|gauge|None: the metric kind a range argument must have)
FUNCTIONS: dict[str, tuple[tuple[str, ...], str | None]] = {
    "rate": ((MATRIX,), "counter"),
    "increase": ((MATRIX,), "counter"),
    "avg_over_time": ((MATRIX,), "gauge"),
    "min_over_time": ((MATRIX,), "gauge"),
    "max_over_time": ((MATRIX,), "gauge"),
    "sum_over_time": ((MATRIX,), "gauge"),
    "last_over_time": ((MATRIX,), "gauge"),
    "count_over_time": ((MATRIX,), None),
    "histogram_quantile": ((SCALAR, VECTOR), None),
    "abs": ((VECTOR,), None),
    "clamp_min": ((VECTOR, SCALAR), None),
    "clamp_max": ((VECTOR, SCALAR), None),
    # PromQL: the value the gauge would have t seconds from now, by least squares over the window.
    "predict_linear": ((MATRIX, SCALAR), "gauge"),
}


@dataclass
class ExprInfo:
    """What :func:`alerts.language.check` tells about an expression."""

    type: str
    metrics: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


class Checker:
    def __init__(self, text: str) -> None:
        self.text = text
        self.metrics: list[str] = []
        self.warnings: list[str] = []
        self.kinds: dict[str, str] = {}

    def error(self, message: str, node: object, expected: list[str] | None = None) -> RuleTypeError:
        pos = getattr(node, "pos", None)
        return located(RuleTypeError, message, self.text, pos, expected)

    def check(self, expr: Expr) -> ExprInfo:
        kind = self.type_of(expr)
        if kind == MATRIX:
            raise self.error(
                "a range vector cannot be the result; wrap it in a function such as rate()", expr
            )
        return ExprInfo(type=kind, metrics=self.metrics, warnings=self.warnings)

    def type_of(self, expr: Expr) -> str:
        if isinstance(expr, NumberLiteral):
            return SCALAR
        if isinstance(expr, Selector):
            return self.selector(expr)
        if isinstance(expr, Call):
            return self.call(expr)
        if isinstance(expr, Aggregation):
            self.expect(expr.expr, VECTOR, f"{expr.op}()")
            return VECTOR
        if isinstance(expr, UnaryOp):
            return self.arithmetic_operand(expr.expr, expr.op)
        if isinstance(expr, BinaryOp):
            return self.binary(expr)
        raise self.error(f"unsupported expression {type(expr).__name__}", expr)

    def selector(self, sel: Selector) -> str:
        resolved = resolve_series_name(sel.name)
        if resolved is None:
            raise self.error(f"unknown metric {sel.name!r}{self.suggestion(sel.name)}", sel)
        spec, part = resolved
        if not part and spec.type not in ("counter", "gauge"):
            parts = ", ".join(spec.series_names())
            raise self.error(f"{sel.name} is a {spec.type}: select one of {parts}", sel)
        if sel.name not in self.metrics:
            self.metrics.append(sel.name)
        self.kinds[sel.name] = "counter" if part or spec.type == COUNTER else "gauge"
        allowed = set(spec.labels) | ({"le"} if part == "bucket" else set())
        for matcher in sel.matchers:
            if matcher.label not in allowed:
                known = ", ".join(sorted(allowed)) or "none"
                warning = f"label {matcher.label!r} is not a label of {sel.name} (known: {known})"
                if warning not in self.warnings:
                    self.warnings.append(warning)
        return MATRIX if sel.window is not None else VECTOR

    def suggestion(self, name: str) -> str:
        names = [n for spec in all_metrics() for n in (spec.name, *spec.series_names())]
        close = difflib.get_close_matches(name, names, n=1)
        return f"; did you mean {close[0]!r}?" if close else ""

    def call(self, call: Call) -> str:
        if call.func not in FUNCTIONS:
            raise self.error(f"unknown function {call.func!r}", call, sorted(FUNCTIONS))
        arg_types, kind = FUNCTIONS[call.func]
        if len(call.args) != len(arg_types):
            noun = "argument" if len(arg_types) == 1 else "arguments"
            raise self.error(
                f"{call.func}() takes {len(arg_types)} {noun}, got {len(call.args)}", call
            )
        if call.func == "abs" and self.type_of(call.args[0]) == SCALAR:
            return SCALAR
        for index, (arg, wanted) in enumerate(zip(call.args, arg_types, strict=True), start=1):
            self.expect(arg, wanted, f"argument {index} of {call.func}()")
        if kind is not None:
            self.check_kind(call, kind)
        return VECTOR

    def check_kind(self, call: Call, kind: str) -> None:
        selector = call.args[0]
        metric = getattr(selector, "name", "")
        actual = self.kinds.get(metric)
        if actual is None or actual == kind:
            return
        if kind == "counter":
            hint = "use avg_over_time(), max_over_time() or last_over_time() for a gauge"
        else:
            hint = "use rate() or increase() for a counter"
        raise self.error(
            f"{call.func}() needs a {kind}, but {metric} is a {actual}; {hint}",
            selector,
        )

    def expect(self, expr: Expr, wanted: str, where: str) -> None:
        actual = self.type_of(expr)
        if actual == wanted:
            return
        message = f"{where} needs {_TYPE_NAMES[wanted]}, got {_TYPE_NAMES[actual]}"
        if actual == MATRIX:
            message += "; wrap the range in a function such as rate() or avg_over_time()"
        elif wanted == MATRIX:
            message += "; add a window such as [5m] to the selector"
        raise self.error(message, expr)

    def arithmetic_operand(self, expr: Expr, op: str) -> str:
        kind = self.type_of(expr)
        if kind == MATRIX:
            raise self.error(
                f"a range vector cannot be used with {op!r}; wrap it in a function such as rate()",
                expr,
            )
        return kind

    def binary(self, expr: BinaryOp) -> str:
        left = self.arithmetic_operand(expr.lhs, expr.op)
        right = self.arithmetic_operand(expr.rhs, expr.op)
        if expr.matching is not None and SCALAR in (left, right):
            keyword = "on" if expr.matching.on else "ignoring"
            raise self.error(f"{keyword}(...) is only allowed between two vectors", expr)
        return VECTOR if VECTOR in (left, right) else SCALAR


def check_tree(expr: Expr, text: str) -> ExprInfo:
    return Checker(text).check(expr)
