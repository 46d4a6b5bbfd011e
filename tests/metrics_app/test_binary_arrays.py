"""The columns the ingest statements send to PostgreSQL as binary arrays come back exactly."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import psycopg
import pytest
from django.db import connection

from metrics_app import binary_arrays
from metrics_app.binary_arrays import EpochSecondsArray, Float8Array, Int8Array, TimestamptzArray

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="PostgreSQL only: SQLite receives a batch as JSON (CI runs this on PostgreSQL)",
    ),
]


def _round_trip(array: Any, sql_type: str) -> list[Any]:
    connection.ensure_connection()
    with psycopg.Cursor(connection.connection) as cursor:
        binary_arrays.register(cursor.adapters)
        sql = f"SELECT x FROM unnest(%b::{sql_type}[]) WITH ORDINALITY AS r(x, i) ORDER BY i"  # noqa: S608
        cursor.execute(sql, [array])
        return [value for (value,) in cursor.fetchall()]


def test_doubles_come_back_bit_for_bit() -> None:
    values = [0.0, -0.0, -1.5, 1 / 3, 1e308, -1e308, 5e-324, math.inf, -math.inf, 12]
    back = _round_trip(Float8Array(values), "double precision")
    assert back == [float(value) for value in values]
    assert math.copysign(1, back[1]) == -1
    (nan,) = _round_trip(Float8Array([math.nan]), "double precision")
    assert math.isnan(nan)


def test_bigints_come_back_to_the_limits() -> None:
    values = [0, -1, 1, 2**63 - 1, -(2**63)]
    assert _round_trip(Int8Array(values), "bigint") == values


def test_times_come_back_to_the_microsecond() -> None:
    values = [
        datetime(2000, 1, 1, tzinfo=UTC),  # PostgreSQL's epoch: 0
        datetime(1999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),  # before it: negative
        datetime(2026, 12, 1, 14, 3, 7, 123_457, tzinfo=UTC),
        datetime(2026, 12, 1, 16, 3, 7, 1, tzinfo=timezone(timedelta(hours=2))),  # same zone rules
        datetime(1970, 1, 1, tzinfo=UTC),
        datetime(9999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),
    ]
    assert _round_trip(TimestamptzArray(values), "timestamptz") == values


def test_an_empty_column_is_an_empty_array() -> None:
    for array, sql_type in [(Float8Array([]), "double precision"), (Int8Array([]), "bigint"),
                            (TimestamptzArray([]), "timestamptz")]:  # fmt: skip
        assert _round_trip(array, sql_type) == []


def test_a_value_out_of_range_is_refused_before_anything_is_sent() -> None:
    with pytest.raises(OverflowError):
        Int8Array([2**63])


def test_whole_epoch_seconds_are_the_same_instants() -> None:
    values = [0, 946_684_800, 946_684_799, 1_764_597_780, 253_402_300_799]
    expected = [datetime.fromtimestamp(value, UTC) for value in values]
    assert _round_trip(EpochSecondsArray(values), "timestamptz") == expected
