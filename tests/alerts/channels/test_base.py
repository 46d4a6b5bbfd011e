"""The shared helpers of the channel contract."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine

from alerts.channels.base import (
    ChannelError,
    classify_http_status,
    format_value,
    one_line,
    retry_after_seconds,
)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "n/a"),
        (12.0, "12"),
        (0.052, "0.052"),
        (1234567.0, "1234567"),
        (3.14159265, "3.14159"),
        (-2.5, "-2.5"),
        (float("nan"), "nan"),
    ],
)
def test_values_are_formatted_as_people_read_them(value: float | None, text: str) -> None:
    assert format_value(value) == text


def test_retry_after_reads_seconds_and_http_dates() -> None:
    with time_machine.travel(datetime(2026, 11, 2, 9, 0, 0, tzinfo=UTC), tick=False):
        assert retry_after_seconds("3") == 3.0
        assert retry_after_seconds("1.5") == 1.5
        assert retry_after_seconds("Mon, 02 Nov 2026 09:00:30 GMT") == 30.0
        assert retry_after_seconds("Mon, 02 Nov 2026 08:00:00 GMT") == 0.0
        assert retry_after_seconds("soon") is None
        assert retry_after_seconds(None) is None


@pytest.mark.parametrize(
    ("status", "permanent"),
    [(429, False), (500, False), (502, False), (503, False), (400, True), (401, True), (404, True)],
)
def test_http_statuses_sort_into_transient_and_permanent(status: int, permanent: bool) -> None:
    error = classify_http_status(status, "detail", retry_after=2.0 if status == 429 else None)

    assert (error.permanent, error.status) == (permanent, status)
    assert error.retry_after == (2.0 if status == 429 else None)


def test_a_channel_error_keeps_what_the_outbox_records() -> None:
    error = ChannelError("rate limited", permanent=False, retry_after=3.0, status=429)

    assert (str(error), error.permanent, error.retry_after, error.status) == (
        "rate limited",
        False,
        3.0,
        429,
    )


def test_one_line_collapses_whitespace_and_caps_with_an_ellipsis() -> None:
    assert one_line("a\r\n  b\tc", 100) == "a b c"
    assert one_line("abcdefghij", 5) == "abcd…"
