"""The rule language: a PromQL subset parsed by a grammar and evaluated over stored buckets.

See docs/rules.md. The interface (docs/rules.md, "Python interface"):

- :func:`parse` text -> tree (raises :class:`RuleError`), :func:`check` -> :class:`ExprInfo`;
- :func:`evaluate_many` many trees at one instant, one query per distinct leaf;
- :func:`evaluate` one expression; :func:`backtest` one expression over a past range.
"""

from __future__ import annotations

from alerts.language.errors import RuleError, RuleSyntaxError, RuleTypeError
from alerts.language.evaluator import backtest, evaluate, evaluate_many
from alerts.language.reading import check, parse
from alerts.language.tree import Expr, Sample, Scalar, Vector
from alerts.language.typecheck import ExprInfo

__all__ = [
    "Expr",
    "ExprInfo",
    "RuleError",
    "RuleSyntaxError",
    "RuleTypeError",
    "Sample",
    "Scalar",
    "Vector",
    "backtest",
    "check",
    "evaluate",
    "evaluate_many",
    "parse",
]
