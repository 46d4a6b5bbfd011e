"""Text -> typed tree: limits checked first, then lark's LALR parser builds the nodes directly.

Nothing here evaluates code: the grammar is data, the tree is dataclasses, strings are unescaped
by hand. Input is bounded (length, bracket nesting, tree depth, windows) before or while parsing,
so a hostile expression is rejected in well under 100 ms.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Any, cast

from lark import Lark, Token, Transformer
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from alerts.language.errors import RuleError, RuleSyntaxError, RuleTypeError, located
from alerts.language.regex import RegexError, compile_label_regex
from alerts.language.tree import (
    Aggregation,
    BinaryOp,
    Call,
    Expr,
    Matcher,
    NumberLiteral,
    Selector,
    UnaryOp,
    VectorMatching,
    children,
)

MAX_LENGTH = 1000
MAX_NESTING = 32  # brackets: ( [ {
MAX_TREE_DEPTH = 64  # operators, calls and aggregations nested in one another
MAX_DURATION = 35 * 86400
AGGREGATIONS = frozenset({"sum", "avg", "min", "max", "count"})
LABEL_NAME_RE = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*\Z")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'"}

EXPECTED_NAMES = {
    "NAME": "a name",
    "NUMBER": "a number",
    "DURATION": "a duration (e.g. 5m)",
    "STRING": "a quoted string",
    "ADD_OP": "+ or -",
    "MUL_OP": "* or /",
    "MATCH_OP": "=, !=, =~ or !~",
    "GROUP_KW": "by or without",
    "MATCH_KW": "on or ignoring",
    "OFFSET": "offset",
    "LPAR": "(",
    "RPAR": ")",
    "LBRACE": "{",
    "RBRACE": "}",
    "LSQB": "[",
    "RSQB": "]",
    "COMMA": ",",
    "$END": "end of input",
}


def _raw_offset(body: str, offset: int | None) -> int:
    """Where, in a quoted string token, the ``offset``-th character of its value lies."""
    if offset is None:
        return 0
    raw, seen = 0, 0
    while raw < len(body) and seen < offset:
        raw += 2 if body[raw] == "\\" else 1
        seen += 1
    return 1 + raw  # past the opening quote


class _Tagged(tuple):
    """A part of a selector or call (matchers, range, offset, grouping) before it is attached."""


def _tag(kind: str, *values: Any) -> _Tagged:
    return _Tagged((kind, *values))


def _at(token: Token) -> int:
    # lark's lexer sets every token's position; only a hand-made Token lacks one.
    return token.start_pos or 0


class _BuildError(Exception):
    """Raised while building a node; turned into a located RuleError by :func:`parse_tree`."""

    def __init__(self, message: str, pos: int, cls: type[RuleError]) -> None:
        super().__init__(message)
        self.message, self.pos, self.cls = message, pos, cls


class Builder(Transformer):
    """Builds tree nodes as the LALR parser reduces each rule (no recursion over the tree)."""

    def error(
        self, message: str, pos: int | None, cls: type[RuleError] = RuleSyntaxError
    ) -> _BuildError:
        return _BuildError(message, pos or 0, cls)

    def number(self, children: list[Token]) -> NumberLiteral:
        token = children[0]
        return NumberLiteral(float(token), pos=_at(token))

    def paren(self, children: list[Any]) -> Expr:
        return children[1]

    def unary(self, children: list[Any]) -> Expr:
        op, expr = children
        if op == "+":
            return expr
        if isinstance(expr, NumberLiteral):
            return NumberLiteral(-expr.value, pos=op.start_pos)
        return UnaryOp("-", expr, pos=op.start_pos)

    def binary(self, children: list[Any]) -> BinaryOp:
        lhs, op, *rest = children
        matching = rest[0] if len(rest) == 2 else None
        return BinaryOp(str(op), lhs, rest[-1], matching=matching, pos=op.start_pos)

    def matching(self, children: list[Any]) -> VectorMatching:
        keyword = children[0]
        labels = self._label_names(children[2:-1])
        return VectorMatching(on=keyword.lower() == "on", labels=labels)

    def grouping(self, children: list[Any]) -> _Tagged:
        keyword = children[0]
        return _tag("grouping", keyword.lower() == "without", self._label_names(children[2:-1]))

    def _label_names(self, tokens: list[Any]) -> tuple[str, ...]:
        names = []
        for token in tokens:
            if token is None:
                continue
            if not LABEL_NAME_RE.match(token):
                raise self.error(f"{token!r} is not a valid label name", token.start_pos)
            names.append(str(token))
        return tuple(names)

    def matchers(self, children: list[Any]) -> _Tagged:
        return _tag("matchers", tuple(c for c in children if isinstance(c, Matcher)))

    def matcher(self, children: list[Token]) -> Matcher:
        label, op, raw = children
        if not LABEL_NAME_RE.match(label):
            raise self.error(f"{label!r} is not a valid label name", label.start_pos)
        value = self._unquote(raw)
        if op in ("=~", "!~"):
            try:
                compile_label_regex(value)
            except RegexError as exc:
                pos = (raw.start_pos or 0) + _raw_offset(raw[1:-1], exc.offset)
                raise self.error(f"regular expression {value!r}: {exc}", pos) from None
        return Matcher(str(label), str(op), value, pos=_at(label))

    def _unquote(self, token: Token) -> str:
        body, out, i = token[1:-1], [], 0
        while i < len(body):
            char = body[i]
            if char == "\\" and i + 1 < len(body):
                nxt = body[i + 1]
                if nxt not in _ESCAPES:
                    raise self.error(f"unknown escape \\{nxt} in string", _at(token) + i + 1)
                out.append(_ESCAPES[nxt])
                i += 2
                continue
            out.append(char)
            i += 1
        return "".join(out)

    def range(self, children: list[Token]) -> _Tagged:
        token = children[1]
        seconds = self._duration(token, what="window")
        if seconds == 0:
            raise self.error("a window must be longer than zero", token.start_pos)
        return _tag("range", seconds)

    def offset(self, children: list[Token]) -> _Tagged:
        return _tag("offset", self._duration(children[1], what="offset"))

    def _duration(self, token: Token, *, what: str) -> int:
        seconds = sum(
            int(amount) * _UNITS[unit] for amount, unit in re.findall(r"([0-9]+)([smhdw])", token)
        )
        if seconds > MAX_DURATION:
            raise self.error(
                f"{what} {token} is longer than the maximum of 35 days", token.start_pos
            )
        return seconds

    def selector(self, children: list[Any]) -> Expr:
        name = children[0]
        parts = {part[0]: part[1:] for part in children[1:]}
        if set(parts) == set() and name.lower() in ("inf", "nan"):
            return NumberLiteral(float(name), pos=name.start_pos)
        matchers = parts.get("matchers", ((),))[0]
        window = parts["range"][0] if "range" in parts else None
        offset = parts["offset"][0] if "offset" in parts else 0
        return Selector(str(name), matchers, window, offset, pos=name.start_pos)

    def call(self, children: list[Any]) -> Expr:
        name = children[0]
        groupings = [c for c in children[1:] if isinstance(c, _Tagged)]
        args = tuple(
            c for c in children[1:] if c is not None and not isinstance(c, (Token, _Tagged))
        )
        if len(groupings) > 1:
            raise self.error("by/without may appear only once", name.start_pos)
        func = str(name)
        if func not in AGGREGATIONS:
            if groupings:
                raise self.error(
                    f"by/without go with an aggregation ({', '.join(sorted(AGGREGATIONS))}), "
                    f"not with {func}()",
                    name.start_pos,
                    RuleTypeError,
                )
            return Call(func, args, pos=name.start_pos)
        if len(args) != 1:
            raise self.error(
                f"{func}() takes exactly one argument, got {len(args)}",
                name.start_pos,
                RuleTypeError,
            )
        without, labels = (groupings[0][1], groupings[0][2]) if groupings else (False, ())
        return Aggregation(func, args[0], labels, without, pos=name.start_pos)


@lru_cache(maxsize=1)
def _parser() -> Lark:
    # Compiled once per process; the Builder is stateless, so one parser serves every thread.
    grammar = (Path(__file__).parent / "grammar.lark").read_text()
    return Lark(
        grammar, parser="lalr", lexer="contextual", transformer=Builder(), maybe_placeholders=True
    )


def parse_tree(text: str) -> Expr:
    """Parse ``text`` into a tree (syntax only; :func:`alerts.language.parse` also checks types)."""
    if not isinstance(text, str):
        raise RuleSyntaxError("the expression must be text")
    if not text.strip():
        raise located(RuleSyntaxError, "the expression is empty", text, 0, ["an expression"])
    if len(text) > MAX_LENGTH:
        raise located(
            RuleSyntaxError, f"the expression is longer than {MAX_LENGTH} characters", text, 1000
        )
    _check_nesting(text)
    try:
        # With a transformer attached, lark returns what the Builder built, not a lark Tree.
        tree = cast(Expr, _parser().parse(text))
    except _BuildError as exc:
        raise located(exc.cls, exc.message, text, exc.pos) from None
    except UnexpectedInput as exc:
        raise _syntax_error(exc, text) from None
    _check_depth(tree, text)
    return tree


def _check_nesting(text: str) -> None:
    depth, quote, i = 0, "", 0
    while i < len(text):
        char = text[i]
        if quote:
            if char == "\\":
                i += 1
            elif char == quote:
                quote = ""
        elif char in "\"'":
            quote = char
        elif char in "([{":
            depth += 1
            if depth > MAX_NESTING:
                raise located(
                    RuleSyntaxError, f"brackets nested deeper than {MAX_NESTING} levels", text, i
                )
        elif char in ")]}":
            depth -= 1
        i += 1


def _check_depth(tree: Expr, text: str) -> None:
    stack: list[tuple[Expr, int]] = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_TREE_DEPTH:
            raise located(
                RuleSyntaxError,
                f"the expression is nested deeper than {MAX_TREE_DEPTH} levels",
                text,
                getattr(node, "pos", 0),
            )
        stack.extend((child, depth + 1) for child in children(node))


def _syntax_error(exc: UnexpectedInput, text: str) -> RuleError:
    expected = sorted({EXPECTED_NAMES.get(name, name) for name in _expected_of(exc)})
    if isinstance(exc, UnexpectedCharacters):
        pos = exc.pos_in_stream if exc.pos_in_stream is not None else len(text)
        char = text[pos] if pos < len(text) else ""
        message = f"unexpected character {char!r}"
        return located(RuleSyntaxError, message, text, pos, expected)
    if isinstance(exc, UnexpectedEOF) or (
        isinstance(exc, UnexpectedToken) and exc.token.type == "$END"
    ):
        return located(RuleSyntaxError, "unexpected end of input", text, len(text), expected)
    token = exc.token  # type: ignore[attr-defined]
    position = token.start_pos if token.start_pos is not None else len(text)
    return located(RuleSyntaxError, f"unexpected {str(token)!r}", text, position, expected)


def _expected_of(exc: UnexpectedInput) -> set[str]:
    if isinstance(exc, UnexpectedCharacters):
        return set(exc.allowed or ())
    return set(getattr(exc, "expected", None) or ())
