"""The rule language: a PromQL subset parsed by a grammar and evaluated over stored buckets.

See docs/rules.md. The interface (docs/rules.md, "Python interface"):

- :func:`parse` text -> tree (raises :class:`RuleError`), :func:`check` -> :class:`ExprInfo`;
- :func:`evaluate_many` many trees at one instant, one query per distinct leaf;
- :func:`evaluate` one expression; :func:`backtest` one expression over a past range.
"""

from __future__ import annotations

from alerts.language.errors import RuleError, RuleSyntaxError, RuleTypeError
from alerts.language.evaluator import backtest, evaluate, evaluate_many
from alerts.language.parser import parse_tree
from alerts.language.tree import Expr, Sample, Scalar, Vector
from alerts.language.typecheck import ExprInfo, check_tree


def parse(text: str) -> Expr:
    """Parse and type-check ``text``; raises :class:`RuleError` with the position of the mistake."""
    tree = parse_tree(text)
    check_tree(tree, text)
    return tree


def check(text: str) -> ExprInfo:
    """The type, metrics and warnings of ``text``; raises :class:`RuleError` when it is invalid."""
    return check_tree(parse_tree(text), text)


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
