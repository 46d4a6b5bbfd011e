"""The compact notation of values over time, edge cases included (promtool's examples first)."""

from __future__ import annotations

import pytest

from alerts.rules.testing.notation import STALE, NotationError, parse_values


@pytest.mark.parametrize(
    ("text", "points"),
    [
        ("-2+4x3", [-2.0, 2.0, 6.0, 10.0]),
        ("1-2x4", [1.0, -1.0, -3.0, -5.0, -7.0]),
        ("1x4", [1.0] * 5),
        ("1 _x3 stale", [1.0, None, None, None, STALE]),
        ("1 2 _ 4", [1.0, 2.0, None, 4.0]),
        ("0+10x3", [0.0, 10.0, 20.0, 30.0]),
        ("5x0", [5.0]),
        ("_x0", []),
        ("", []),
        ("  0.5   .25\t1e3 ", [0.5, 0.25, 1000.0]),
        ("1e3+1e2x2", [1000.0, 1100.0, 1200.0]),
        ("1.5+0.5x2", [1.5, 2.0, 2.5]),
        ("-1", [-1.0]),
        ("+3", [3.0]),
        ("stale _ 7", [STALE, None, 7.0]),
    ],
)
def test_the_notation_expands_as_promtool_does(text: str, points: list) -> None:
    assert parse_values(text, limit=100) == points


@pytest.mark.parametrize(
    ("text", "column", "words"),
    [
        ("1 2 abc", 5, "'abc' is not a value"),
        ("1+x3", 1, "'1+x3' is not a value"),
        ("1+2x", 1, "'1+2x' is not a value"),
        ("1+2x-1", 1, "is not a value"),
        ("x3", 1, "is not a value"),
        ("1 NaN", 3, "NaN and infinity cannot be pushed"),
        ("Inf", 1, "NaN and infinity cannot be pushed"),
        ("1e999", 1, "too large a number"),
        ("1e308+1e308x3", 1, "goes past the largest number"),
        ("__", 1, "is not a value"),
    ],
)
def test_a_bad_token_is_named_with_its_column(text: str, column: int, words: str) -> None:
    with pytest.raises(NotationError) as caught:
        parse_values(text, limit=100)
    assert words in caught.value.message
    assert caught.value.column == column


def test_the_point_limit_is_checked_before_a_series_is_expanded() -> None:
    assert len(parse_values("0+1x99", limit=100)) == 100
    with pytest.raises(NotationError, match="more than 100 points") as caught:
        parse_values("1 0+1x99999999999", limit=100)
    assert caught.value.column == 3
    with pytest.raises(NotationError, match="more than 3 points"):
        parse_values("_x2 1 2", limit=3)
