"""Reading an expression: parse its text, then check its types (the language's front door)."""

from __future__ import annotations

from alerts.language.parser import parse_tree
from alerts.language.tree import Expr
from alerts.language.typecheck import ExprInfo, check_tree


def parse(text: str) -> Expr:
    """Parse and type-check ``text``; raises :class:`RuleError` with the position of the mistake."""
    tree = parse_tree(text)
    check_tree(tree, text)
    return tree


def check(text: str) -> ExprInfo:
    """The type, metrics and warnings of ``text``; raises :class:`RuleError` when it is invalid."""
    return check_tree(parse_tree(text), text)
