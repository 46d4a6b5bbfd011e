"""The writes of a batch: additive upserts of series and minute buckets, in SQL.

Each statement takes the whole batch as one JSON parameter (``jsonb_to_recordset`` on
PostgreSQL, ``json_each`` on SQLite), so a batch of any size costs the same number of queries
and never hits a bind-parameter limit. ``ON CONFLICT DO UPDATE`` adds to the stored values in
the database, so concurrent requests touching the same series lose no increment. Rows are sent
in a fixed order (series by name and labels, buckets by series and minute) so two writers lock
rows in the same order and cannot deadlock.
"""

from __future__ import annotations

import json
import math
import zlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import DataError, connection

from metrics_app.ingest import Batch
from metrics_app.models import Bucket, Series

SERIES = "metrics_app_series"
BUCKET = "metrics_app_bucket"
FINE = "metrics_app_finebucket"
NUMERIC_OUT_OF_RANGE = "22003"  # PostgreSQL's SQLSTATE when double precision overflows


class Overflow(Exception):
    """A stored total or minute sum would not be finite; ``keys`` when the database told which."""

    def __init__(self, keys: set[tuple[str, str]] | None = None) -> None:
        super().__init__("overflow")
        self.keys = keys


@contextmanager
def _overflow_as_error() -> Iterator[None]:
    """PostgreSQL refuses to overflow a double (SQLite stores infinity, checked by the callers)."""
    try:
        yield
    except DataError as exc:
        if getattr(exc.__cause__, "sqlstate", None) == NUMERIC_OUT_OF_RANGE:
            raise Overflow() from exc
        raise


def is_postgres() -> bool:
    return connection.vendor == "postgresql"


def db_time(at: datetime) -> str:
    """A datetime as the database compares it (SQLite: Django's text form, compared as text)."""
    return _time_formatter()(at)


def _time_formatter() -> Any:
    if is_postgres():
        return datetime.isoformat
    return connection.ops.adapt_datetimefield_value


def _rows_sql(columns: Iterable[tuple[str, str]]) -> str:
    """``SELECT <columns> FROM <the batch as one JSON parameter>`` for the current database.

    (Django's psycopg cursors bind parameters on the client, where one JSON text is escaped in C
    while typed arrays are quoted element by element in Python: JSON is the cheaper carrier.)
    """
    columns = list(columns)
    if is_postgres():
        names = ", ".join(f"r.{name}" for name, _ in columns)
        spec = ", ".join(f"{name} {kind}" for name, kind in columns)
        return f"SELECT {names} FROM jsonb_to_recordset(%s::jsonb) AS r({spec}, i integer)"  # noqa: S608
    names = ", ".join(
        f"json_extract(value, '$.{name}')"
        if kind != "jsonb"
        else f"json(json_extract(value, '$.{name}'))"
        for name, kind in columns
    )
    return f"SELECT {names} FROM json_each(%s)"  # noqa: S608


def _params(rows: list[dict[str, Any]]) -> list[str]:
    """The parameter of :func:`_rows_sql`: the rows, numbered in the order they must be written."""
    for i, row in enumerate(rows):
        row["i"] = i
    return [json.dumps(rows)]


def _order() -> str:
    return "ORDER BY r.i" if is_postgres() else "WHERE true ORDER BY json_extract(value, '$.i')"


def _fn(name: str) -> str:
    """Two-argument minimum/maximum: LEAST/GREATEST on PostgreSQL, min()/max() on SQLite."""
    if is_postgres():
        return {"min": "LEAST", "max": "GREATEST"}[name]
    return name


SERIES_COLUMNS = (
    ("name", "text"),
    ("family", "text"),
    ("labels", "jsonb"),
    ("labels_key", "text"),
    ("kind", "text"),
    ("value", "double precision"),
    ("value_at", "timestamptz"),
    ("created_at", "timestamptz"),
    ("updated_at", "timestamptz"),
    ("service", "text"),
)
BUCKET_COLUMNS = (
    ("series_id", "bigint"),
    ("start", "timestamptz"),
    ("count", "bigint"),
    ("sum", "double precision"),
    ("min", "double precision"),
    ("max", "double precision"),
    ("last", "double precision"),
    ("last_at", "timestamptz"),
)


def _series_sql() -> str:
    s, greatest = SERIES, _fn("max")
    names = ", ".join(name for name, _ in SERIES_COLUMNS)
    return (
        f"INSERT INTO {s} ({names}) {_rows_sql(SERIES_COLUMNS)} {_order()} "
        f"ON CONFLICT (name, labels_key) DO UPDATE SET "
        f"value = CASE WHEN {s}.kind = 'counter' THEN {s}.value + excluded.value "
        f"WHEN {s}.value_at IS NULL OR excluded.value_at >= {s}.value_at THEN excluded.value "
        f"ELSE {s}.value END, "
        f"value_at = {greatest}(COALESCE({s}.value_at, excluded.value_at), excluded.value_at), "
        f"updated_at = excluded.updated_at "
        f"RETURNING id, name, labels_key, value"
    )


def _bucket_sql(table: str = BUCKET) -> str:
    b, least, greatest = table, _fn("min"), _fn("max")
    names = ", ".join(name for name, _ in BUCKET_COLUMNS)
    return (
        f"INSERT INTO {b} ({names}) {_rows_sql(BUCKET_COLUMNS)} {_order()} "
        f"ON CONFLICT (series_id, start) DO UPDATE SET "
        f"count = {b}.count + excluded.count, sum = {b}.sum + excluded.sum, "
        f"min = {least}({b}.min, excluded.min), max = {greatest}({b}.max, excluded.max), "
        f"last = CASE WHEN excluded.last_at >= {b}.last_at THEN excluded.last ELSE {b}.last END, "
        f"last_at = {greatest}({b}.last_at, excluded.last_at) "
        f"RETURNING series_id, sum"
    )


KEY_COLUMNS = (("name", "text"), ("labels_key", "text"))


def _existing_sql() -> str:
    keys = _rows_sql(KEY_COLUMNS)
    return f"SELECT name, labels_key FROM {SERIES} WHERE (name, labels_key) IN ({keys})"  # noqa: S608


def existing_keys(keys: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
    rows = [{"name": name, "labels_key": key} for name, key in keys]
    if not rows:
        return set()
    with connection.cursor() as cursor:
        cursor.execute(_existing_sql(), _params(rows))
        return {(name, key) for name, key in cursor.fetchall()}


def lock_families(families: Iterable[str]) -> None:
    """Serialise new series of these families (PostgreSQL; SQLite writers are serial already).

    Advisory transaction locks are taken in sorted order before any row is written, so two
    writers cannot wait on each other in a cycle.
    """
    names = sorted(set(families))
    # A store no other process writes to (the rule tests' throwaway copy, whose connection says
    # so) needs no lock; the keys are database-wide and would make it wait on live writers.
    if not names or not is_postgres() or getattr(connection, "private_store", False):
        return
    keys = [zlib.crc32(f"metrics_app.series:{name}".encode()) for name in names]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_advisory_xact_lock(k)) FROM "
            "(SELECT k FROM unnest(%s::bigint[]) AS k ORDER BY k) AS keys",
            [keys],
        )


def count_series(names: Iterable[str], *, service: str | None = None) -> dict[str, int]:
    """Label sets stored per series name (the family's primary series), of ``service`` if given."""
    names = sorted(set(names))
    if not names:
        return {}
    marks = ", ".join(["%s"] * len(names))
    of_service = "" if service is None else " AND service = %s"
    params = [*names] if service is None else [*names, service]
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT name, count(*) FROM {SERIES} WHERE name IN ({marks}){of_service} "  # noqa: S608
            "GROUP BY name",
            params,
        )
        return dict(cursor.fetchall())


def upsert_series(batch: Batch, *, now: datetime) -> dict[tuple[str, str], int]:
    """Write every series of the batch; the ids by (name, labels_key)."""
    as_db = _time_formatter()
    stamp = as_db(now)
    rows: list[dict[str, Any]] = []
    for key in sorted(batch.series):
        write = batch.series[key]
        rows.append(
            {
                "name": write.name,
                "family": write.family,
                "labels": write.labels,
                "labels_key": write.labels_key,
                "kind": write.kind,
                "value": write.value,
                "value_at": as_db(write.value_at),
                "created_at": stamp,
                "updated_at": stamp,
                "service": batch.service,
            }
        )
    if not rows:
        return {}
    with _overflow_as_error(), connection.cursor() as cursor:
        cursor.execute(_series_sql(), _params(rows))
        returned = cursor.fetchall()
    over = {(name, key) for _, name, key, value in returned if not math.isfinite(value)}
    if over:
        raise Overflow(over)
    return {(name, key): pk for pk, name, key, _ in returned}


def upsert_buckets(batch: Batch, ids: dict[tuple[str, str], int]) -> int:
    as_db = _time_formatter()
    rows: list[dict[str, Any]] = []
    keyed = sorted(
        ((ids[(name, key)], minute), batch.minutes[(name, key, minute)])
        for name, key, minute in batch.minutes
    )
    for (series_id, minute), write in keyed:
        rows.append(
            {
                "series_id": series_id,
                "start": as_db(minute),
                "count": write.count,
                "sum": write.sum,
                "min": write.min,
                "max": write.max,
                "last": write.last,
                "last_at": as_db(write.last_at),
            }
        )
    if rows:
        with _overflow_as_error(), connection.cursor() as cursor:
            cursor.execute(_bucket_sql(), _params(rows))
            over = {pk for pk, total in cursor.fetchall() if not math.isfinite(total)}
        if over:
            raise Overflow({key for key, pk in ids.items() if pk in over})
    return len(rows)


def upsert_fine(batch: Batch, ids: dict[tuple[str, str], int], *, since: datetime) -> int:
    """The batch's 10-second buckets from ``since`` on (older ones would be pruned at once).

    Their sums are the minute buckets' split finer: an overflow shows there first.
    """
    as_db = _time_formatter()
    keyed = sorted(
        ((ids[(name, key)], start), write)
        for (name, key, start), write in batch.fine.items()
        if start >= since
    )
    rows = [
        {
            "series_id": series_id,
            "start": as_db(start),
            "count": write.count,
            "sum": write.sum,
            "min": write.min,
            "max": write.max,
            "last": write.last,
            "last_at": as_db(write.last_at),
        }
        for (series_id, start), write in keyed
    ]
    if rows:
        with _overflow_as_error(), connection.cursor() as cursor:
            cursor.execute(_bucket_sql(FINE), _params(rows))
    return len(rows)


def overflowing_keys(batch: Batch) -> set[tuple[str, str]]:
    """The series whose stored total or minute sum plus the batch's would not be finite.

    Only asked after PostgreSQL refused an overflow without saying where (the error path).
    """

    names = {name for name, _ in batch.series}
    keys = {key for _, key in batch.series}
    stored = Series.objects.filter(name__in=names, labels_key__in=keys)
    over = {
        (name, key)
        for name, key, kind, value in stored.values_list("name", "labels_key", "kind", "value")
        if (name, key) in batch.series
        and kind == "counter"
        and not math.isfinite(value + batch.series[(name, key)].value)
    }
    minutes = {minute for _, _, minute in batch.minutes}
    sums = Bucket.objects.filter(
        series__name__in=names, series__labels_key__in=keys, start__in=minutes
    ).values_list("series__name", "series__labels_key", "start", "sum")
    for name, key, start, total in sums:
        write = batch.minutes.get((name, key, start))
        if write is not None and not math.isfinite(total + write.sum):
            over.add((name, key))
    return over


def series_limit() -> int:
    return settings.METRICS_SERIES_LIMIT


def service_series_limit() -> int:
    return settings.METRICS_MAX_SERIES_PER_SERVICE
