"""The typed tree an expression parses into, and the values evaluation produces.

Nodes are frozen dataclasses; ``pos`` (0-based offset in the text, for error messages) is not part
of equality, so two spellings of the same selector are the same leaf.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union


@dataclass(frozen=True)
class Matcher:
    """``label="v"``, ``label!="v"``, ``label=~"re"`` or ``label!~"re"``."""

    label: str
    op: str
    value: str
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True)
class NumberLiteral:
    value: float
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Selector:
    """A series selector; ``window`` (seconds) makes a range vector, ``offset`` shifts it back."""

    name: str
    matchers: tuple[Matcher, ...] = ()
    window: int | None = None
    offset: int = 0
    pos: int = field(default=0, compare=False)

    def leaf_key(self) -> tuple:
        """What identifies the data this selector reads (matcher order does not matter)."""
        matchers = tuple(sorted((m.label, m.op, m.value) for m in self.matchers))
        return (self.name, matchers, self.window, self.offset)


@dataclass(frozen=True)
class Call:
    """A function call: ``rate(x[5m])``, ``histogram_quantile(0.95, ...)``, ``abs(...)``."""

    func: str
    args: tuple[Expr, ...]
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Aggregation:
    """``sum``, ``avg``, ``min``, ``max`` or ``count`` with ``by (...)`` or ``without (...)``."""

    op: str
    expr: Expr
    grouping: tuple[str, ...] = ()
    without: bool = False
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True)
class VectorMatching:
    """``on (labels)`` (``on=True``) or ``ignoring (labels)`` between two vectors."""

    on: bool
    labels: tuple[str, ...]


@dataclass(frozen=True)
class BinaryOp:
    op: str
    lhs: Expr
    rhs: Expr
    matching: VectorMatching | None = None
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True)
class UnaryOp:
    op: str
    expr: Expr
    pos: int = field(default=0, compare=False)


Expr = Union[NumberLiteral, Selector, Call, Aggregation, BinaryOp, UnaryOp]  # noqa: UP007


@dataclass
class Sample:
    labels: dict[str, str]
    value: float


@dataclass
class Scalar:
    value: float

    @property
    def type(self) -> str:
        return "scalar"


@dataclass
class Vector:
    """Samples with distinct label sets; empty means "no data"."""

    samples: list[Sample] = field(default_factory=list)

    @property
    def type(self) -> str:
        return "vector"


def walk(expr: Expr) -> list[Expr]:
    """Every node of ``expr``, parents before children (iterative: depth is bounded anyway)."""
    out: list[Expr] = []
    stack: list[Expr] = [expr]
    while stack:
        node = stack.pop()
        out.append(node)
        stack.extend(reversed(children(node)))
    return out


def children(node: Expr) -> list[Expr]:
    if isinstance(node, Call):
        return list(node.args)
    if isinstance(node, Aggregation):
        return [node.expr]
    if isinstance(node, BinaryOp):
        return [node.lhs, node.rhs]
    if isinstance(node, UnaryOp):
        return [node.expr]
    return []
