"""Errors of the rule language: what went wrong and where (line, column, offset, expected)."""

from __future__ import annotations

from typing import Any, TypeVar


class RuleError(Exception):
    """An expression that cannot be parsed, type-checked or evaluated."""

    kind = "error"

    def __init__(
        self,
        message: str,
        *,
        line: int | None = None,
        column: int | None = None,
        position: int | None = None,
        expected: list[str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column
        self.position = position
        self.expected = list(expected or [])

    def __str__(self) -> str:
        if self.line is None:
            return self.message
        return f"{self.message} (line {self.line}, column {self.column})"

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "message": self.message,
            "line": self.line,
            "column": self.column,
            "position": self.position,
            "expected": list(self.expected),
        }


class RuleSyntaxError(RuleError):
    """The text is not an expression of the language (or is too long or too deep)."""

    kind = "syntax"


class RuleTypeError(RuleError):
    """The expression parses, but its parts do not fit (types, functions, metrics, arguments)."""

    kind = "type"


_E = TypeVar("_E", bound=RuleError)


def located(
    cls: type[_E],
    message: str,
    text: str,
    position: int | None,
    expected: list[str] | None = None,
) -> _E:
    """A ``cls`` error at the 0-based ``position`` of ``text``, with its line and column."""
    if position is None:
        return cls(message, expected=expected)
    position = max(0, min(position, len(text)))
    line = text.count("\n", 0, position) + 1
    column = position - (text.rfind("\n", 0, position) + 1) + 1
    return cls(message, line=line, column=column, position=position, expected=expected)
