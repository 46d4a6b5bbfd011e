"""The compact notation of a series' values over time, as ``promtool test rules`` reads it.

Values are separated by blanks; each is one sample, one interval after the previous one:

- ``a`` a number (``-2``, ``0.5``, ``1e3``);
- ``a+bxn`` ``a``, then ``n`` more samples each ``b`` larger: ``a a+b ... a+n*b`` (n+1 values);
- ``a-bxn`` the same, each ``b`` smaller; ``axn`` is ``a+0xn``;
- ``_`` no sample at that point, ``_xn`` n points without a sample;
- ``stale`` the series stops being pushed at that point (as ``_``: the store keeps no staleness
  marker, see docs/rules.md).
"""

from __future__ import annotations

import math
import re
from typing import Final

NUMBER = r"[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?"
UNSIGNED = r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?"
_NUMBER_RE = re.compile(NUMBER)
_SERIES_RE = re.compile(rf"(?P<a>{NUMBER})(?:(?P<op>[-+])(?P<b>{UNSIGNED}))?x(?P<n>[0-9]+)")
_MISSING_RE = re.compile(r"_x(?P<n>[0-9]+)")
_NON_FINITE = {"nan", "inf", "+inf", "-inf", "infinity", "+infinity", "-infinity"}


class _Stale:
    """The staleness marker: the series ends here."""

    def __repr__(self) -> str:
        return "stale"


STALE: Final = _Stale()
Point = float | None | _Stale  # a value, no sample (None), or the end of the series


class NotationError(ValueError):
    """A value the notation cannot read; ``column`` is where its token starts (1-based)."""

    def __init__(self, message: str, *, column: int) -> None:
        super().__init__(message)
        self.message = message
        self.column = column


def parse_values(text: str, *, limit: int) -> list[Point]:
    """The points ``text`` describes; NotationError past ``limit`` points or on a bad token."""
    points: list[Point] = []
    for match in re.finditer(r"\S+", text):
        token, column = match.group(0), match.start() + 1
        count = _count(token, column)
        if len(points) + count > limit:
            raise NotationError(f"more than {limit} points", column=column)
        points.extend(_expand(token, column))
    return points


def _count(token: str, column: int) -> int:
    series = _SERIES_RE.fullmatch(token)
    if series:
        return int(series.group("n")) + 1
    missing = _MISSING_RE.fullmatch(token)
    if missing:
        return int(missing.group("n"))
    return 1


def _expand(word: str, column: int) -> list[Point]:
    if word == "_":
        return [None]
    if word == "stale":
        return [STALE]
    missing = _MISSING_RE.fullmatch(word)
    if missing:
        return [None] * int(missing.group("n"))
    series = _SERIES_RE.fullmatch(word)
    if series:
        start = _finite(series.group("a"), word, column)
        step = _finite(series.group("b") or "0", word, column)
        if series.group("op") == "-":
            step = -step
        values = [start + index * step for index in range(int(series.group("n")) + 1)]
        if not all(math.isfinite(value) for value in values):
            raise NotationError(f"{word!r} goes past the largest number", column=column)
        return list(values)
    if _NUMBER_RE.fullmatch(word):
        return [_finite(word, word, column)]
    if word.lower() in _NON_FINITE:
        raise NotationError(
            f"{word!r}: NaN and infinity cannot be pushed (the ingest API refuses them)",
            column=column,
        )
    raise NotationError(
        f"{word!r} is not a value: expected a number, a+bxn, a-bxn, axn, _, _xn or stale",
        column=column,
    )


def _finite(text: str, token: str, column: int) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise NotationError(f"{token!r} is too large a number", column=column)
    return value
