"""The one parser of date-times, durations, ids and JSON bodies every API uses."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from monitoring_site.api.params import (
    MAX_ID,
    ParameterError,
    parse_datetime,
    parse_duration,
    parse_id,
)
from monitoring_site.api.parsers import MalformedBody, loads_json


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2026-11-29T12:00:00Z", datetime(2026, 11, 29, 12, tzinfo=UTC)),
        ("2026-11-29t12:00:00z", datetime(2026, 11, 29, 12, tzinfo=UTC)),
        ("2026-11-29 12:00:00+02:00", datetime(2026, 11, 29, 10, tzinfo=UTC)),
        ("2026-11-29T12:00:00 02:00", datetime(2026, 11, 29, 10, tzinfo=UTC)),  # "+" unencoded
        ("2026-11-29T12:00-0130", datetime(2026, 11, 29, 13, 30, tzinfo=UTC)),
        ("2026-11-29T12:00:00.123456789Z", datetime(2026, 11, 29, 12, 0, 0, 123456, tzinfo=UTC)),
        (" 2026-11-29T12:00:00Z ", datetime(2026, 11, 29, 12, tzinfo=UTC)),
        ("1796000000", datetime.fromtimestamp(1796000000, tz=UTC)),
        ("1796000000.5", datetime.fromtimestamp(1796000000.5, tz=UTC)),
        (1796000000, datetime.fromtimestamp(1796000000, tz=UTC)),
        (0.0, datetime(1970, 1, 1, tzinfo=UTC)),
    ],
)
def test_rfc_3339_with_an_offset_and_epoch_seconds_are_read_as_utc(
    raw: object, expected: datetime
) -> None:
    parsed = parse_datetime(raw)
    assert parsed == expected
    assert parsed.tzinfo is UTC


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("2026-11-29T12:00:00", "Give a UTC offset"),
        ("2026-11-29 12:00", "Give a UTC offset"),
        ("2026-13-01T00:00:00Z", "Not a valid date-time (month must be in 1..12)"),
        ("2026-02-29T00:00:00Z", "Not a valid date-time (day is out of range for month)"),
        ("2026-01-01T24:00:00Z", "Not a valid date-time (hour must be in 0..23)"),
        ("2026-01-01T00:00:00+24:00", "Not a valid date-time (offset +24:00 out of range)"),
        ("0001-01-01T00:00:00+01:00", "Not a valid date-time"),
        ("9999-12-31T23:59:59-01:00", "Not a valid date-time"),
        ("\uff12\uff10\uff12\uff16-01-01T00:00:00Z", "Expected RFC 3339"),  # full-width
        ("2026-01-01T00:00:00Z¹", "Expected RFC 3339"),
        ("¹", "Expected RFC 3339"),
        ("١٧٩٦٠٠٠٠٠٠", "Expected RFC 3339"),  # Arabic-Indic digits: float() would take them
        ("tomorrow", "Expected RFC 3339"),
        ("", "Expected RFC 3339"),
        ("1" * 400, "Expected RFC 3339"),
        ("999999999999", "Epoch seconds out of range"),
        (1e300, "Epoch seconds out of range"),
        (float("nan"), "Expected a finite number"),
        (float("inf"), "Expected a finite number"),
        (True, "Expected RFC 3339"),
        (None, "Expected RFC 3339"),
        (["2026-01-01T00:00:00Z"], "Expected RFC 3339"),
    ],
)
def test_naive_impossible_or_odd_times_are_refused_with_the_reason(
    raw: object, reason: str
) -> None:
    with pytest.raises(ParameterError) as caught:
        parse_datetime(raw)
    assert str(caught.value).startswith(reason)


@pytest.mark.parametrize(
    ("raw", "seconds"),
    [("90s", 90), ("5m", 300), ("1h30m", 5400), ("1d", 86400), ("2w", 1209600), ("300", 300)],
)
def test_durations_are_prometheus_style_or_seconds(raw: str, seconds: int) -> None:
    assert parse_duration(raw) == seconds


@pytest.mark.parametrize("raw", ["¹", "5¹m", "٣m", "5 m", "5x", "m", "", "1" * 13, "-5m", "1.5h"])
def test_durations_with_odd_digits_or_shapes_are_refused(raw: str) -> None:
    with pytest.raises(ParameterError, match="Expected a duration"):
        parse_duration(raw)


@pytest.mark.parametrize("raw", ["¹", "٣", "-1", "1.0", "", "9" * 5000, str(MAX_ID + 1)])
def test_ids_are_ascii_digits_within_range(raw: str) -> None:
    with pytest.raises(ParameterError, match="Expected an id"):
        parse_id(raw)
    assert parse_id(str(MAX_ID)) == MAX_ID
    assert parse_id("42") == 42


def test_json_nesting_is_limited_to_sixty_four_levels_without_recursion() -> None:
    assert loads_json("[" * 64 + "]" * 64) == eval_free_nest(64)
    for depth in (65, 900, 100_000):
        with pytest.raises(MalformedBody, match="nested deeper than 64 levels"):
            loads_json("[" * depth + "]" * depth)
    objects = '{"a": ' * 65 + "1" + "}" * 65
    with pytest.raises(MalformedBody, match="nested deeper than 64 levels"):
        loads_json(objects.encode())


def test_wide_bodies_are_not_deep() -> None:
    wide = "[" + ",".join(['{"labels": {"a": [1]}}'] * 5000) + "]"
    assert len(loads_json(wide)) == 5000


def test_nan_is_refused_unless_the_caller_reports_it_itself() -> None:
    with pytest.raises(MalformedBody, match="not JSON compliant"):
        loads_json('{"value": NaN}')
    assert str(loads_json('{"value": NaN}', strict=False)["value"]) == "nan"


def eval_free_nest(depth: int) -> list:
    value: list = []
    for _ in range(depth - 1):
        value = [value]
    return value
