"""The writes of a batch: additive upserts of series and minute buckets, in SQL.

Each statement takes the whole batch at once: on PostgreSQL one array per column, bound in
binary (``unnest``), on SQLite one JSON parameter (``json_each``), so a batch of any size costs
the same number of queries and never hits a bind-parameter limit. ``ON CONFLICT DO UPDATE``
adds to the stored values in the database, so concurrent requests touching the same series lose
no increment. Rows are sent in a fixed order (series by name and labels, buckets by series and
start) so two writers lock rows in the same order and cannot deadlock.
"""

from __future__ import annotations

import json
import math
import zlib
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from operator import itemgetter
from typing import Any, cast

import psycopg
from django.conf import settings
from django.db import DataError, connection

from metrics_app import binary_arrays
from metrics_app.ingest import Batch, MinuteWrite
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


def _select(columns: Sequence[tuple[str, str]]) -> str:
    """``SELECT <columns>`` of the batch, in the order given, from the statement's parameters.

    PostgreSQL takes one array per column, bound by the server in binary (:func:`_execute`):
    PostgreSQL reads them without parsing text, and psycopg writes numbers and times in C. SQLite
    takes one JSON array of rows (``json_each``). ``jsonb`` columns travel as JSON text.
    """
    names = ", ".join(name for name, _ in columns)
    if is_postgres():
        arrays = ", ".join(f"%b::{'text' if kind == 'jsonb' else kind}[]" for _, kind in columns)
        values = ", ".join(
            f"r.{name}::jsonb" if kind == "jsonb" else f"r.{name}" for name, kind in columns
        )
        return (
            f"SELECT {values} FROM unnest({arrays}) WITH ORDINALITY AS r({names}, i) "  # noqa: S608
            "ORDER BY r.i"
        )
    values = ", ".join(
        f"json(json_extract(value, '$[{index}]'))"
        if kind == "jsonb"
        else f"json_extract(value, '$[{index}]')"
        for index, (_, kind) in enumerate(columns)
    )
    # (WHERE true: SQLite reads ON CONFLICT after a bare SELECT ... ORDER BY as a join clause.)
    return f"SELECT {values} FROM json_each(%s) WHERE true ORDER BY key"  # noqa: S608


def _params(columns: Sequence[tuple[str, str]], values: Sequence[Any]) -> list[Any]:
    """The parameters of :func:`_select` for ``values``, one list per column, rows in order (on
    PostgreSQL a column may come already packed)."""
    if is_postgres():
        return [
            column
            if isinstance(column, binary_arrays.Packed)
            else [json.dumps(item) for item in column]
            if kind == "jsonb"
            else binary_arrays.BY_TYPE[kind](column)
            if kind in binary_arrays.BY_TYPE
            else column
            for (_, kind), column in zip(columns, values, strict=True)
        ]
    as_db = connection.ops.adapt_datetimefield_value
    converted = [
        [as_db(item) for item in column] if kind == "timestamptz" else column
        for (_, kind), column in zip(columns, values, strict=True)
    ]
    return [json.dumps(list(zip(*converted, strict=True)))]


def _execute(sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
    """Run a statement of :func:`_select` and return its rows.

    On PostgreSQL through a psycopg cursor binding on the server (Django's cursors bind on the
    client, which would quote every array element in Python), on the same connection and so in
    the same transaction, wrapped like Django's own cursors; columns of numbers and times go as
    arrays already encoded (:mod:`metrics_app.binary_arrays`). (django-prometheus counts the
    queries of Django's cursors only: these are not in ``django_db_execute_total``.)
    """
    if not is_postgres():
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall() if cursor.description is not None else []
    connection.close_if_health_check_failed()
    connection.ensure_connection()
    raw = psycopg.Cursor(connection.connection)
    binary_arrays.register(raw.adapters)
    # Wrapped as Django wraps its own: errors, execute wrappers, the query log of tests and DEBUG.
    make = connection.make_debug_cursor if connection.queries_logged else connection.make_cursor
    # (cast: django-stubs type the argument as Django's wrapper; it is the DB-API cursor.)
    with make(cast(Any, raw)) as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall() if cursor.description is not None else []


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


def _series_sql(*, report_new: bool) -> str:
    s, greatest = SERIES, _fn("max")
    names = ", ".join(name for name, _ in SERIES_COLUMNS)
    upsert = (
        f"INSERT INTO {s} ({names}) {_select(SERIES_COLUMNS)} "
        f"ON CONFLICT (name, labels_key) DO UPDATE SET "
        f"value = CASE WHEN {s}.kind = 'counter' THEN {s}.value + excluded.value "
        f"WHEN {s}.value_at IS NULL OR excluded.value_at >= {s}.value_at THEN excluded.value "
        f"ELSE {s}.value END, "
        f"value_at = {greatest}(COALESCE({s}.value_at, excluded.value_at), excluded.value_at), "
        f"updated_at = excluded.updated_at "
        f"RETURNING id, name, labels_key, value"
    )
    if not report_new:
        return upsert
    return (
        f"WITH written AS ({upsert}) SELECT w.id, w.name, w.labels_key, w.value, NOT EXISTS "  # noqa: S608
        f"(SELECT 1 FROM {s} WHERE {s}.name = w.name AND {s}.labels_key = w.labels_key) "
        f"FROM written w"
    )


def _bucket_sql(table: str, *, returning: bool) -> str:
    b, least, greatest = table, _fn("min"), _fn("max")
    names = ", ".join(name for name, _ in BUCKET_COLUMNS)
    return (
        f"INSERT INTO {b} ({names}) {_select(BUCKET_COLUMNS)} "
        f"ON CONFLICT (series_id, start) DO UPDATE SET "
        f"count = {b}.count + excluded.count, sum = {b}.sum + excluded.sum, "
        f"min = {least}({b}.min, excluded.min), max = {greatest}({b}.max, excluded.max), "
        f"last = CASE WHEN excluded.last_at >= {b}.last_at THEN excluded.last ELSE {b}.last END, "
        f"last_at = {greatest}({b}.last_at, excluded.last_at)"
        + (" RETURNING series_id, sum" if returning else "")
    )


KEY_COLUMNS = (("name", "text"), ("labels_key", "text"))


def _existing_sql() -> str:
    keys = _select(KEY_COLUMNS)
    return f"SELECT name, labels_key FROM {SERIES} WHERE (name, labels_key) IN ({keys})"  # noqa: S608


def existing_keys(keys: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
    keys = list(keys)
    if not keys:
        return set()
    values = [[name for name, _ in keys], [key for _, key in keys]]
    return {(name, key) for name, key in _execute(_existing_sql(), _params(KEY_COLUMNS, values))}


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


def upsert_series(
    batch: Batch, *, now: datetime
) -> tuple[dict[tuple[str, str], int], set[tuple[str, str]]]:
    """Write every series of the batch: their ids by (name, labels_key), and the keys that were
    not stored before (for the limits; at least every new one of ``batch.primary``).

    On PostgreSQL the same statement tells which are new: its ``WITH`` reads the table as it was
    before the statement (a series another writer stored meanwhile counts as new: one check
    more, never one less). SQLite, whose writers take turns, asks first.
    """
    writes = [batch.series[key] for key in sorted(batch.series)]
    if not writes:
        return {}, set()
    values: list[list[Any]] = [
        [write.name for write in writes],
        [write.family for write in writes],
        [write.labels for write in writes],
        [write.labels_key for write in writes],
        [write.kind for write in writes],
        [float(write.value) for write in writes],
        [write.value_at for write in writes],
        [now] * len(writes),
        [now] * len(writes),
        [batch.service] * len(writes),
    ]
    if is_postgres():
        with _overflow_as_error():
            returned = _execute(_series_sql(report_new=True), _params(SERIES_COLUMNS, values))
        new = {(name, key) for _, name, key, _, is_new in returned if is_new}
    else:
        new = set(batch.primary) - existing_keys(batch.primary)
        returned = _execute(_series_sql(report_new=False), _params(SERIES_COLUMNS, values))
    over = {(row[1], row[2]) for row in returned if not math.isfinite(row[3])}
    if over:
        raise Overflow(over)
    return {(row[1], row[2]): row[0] for row in returned}, new


def upsert_buckets(
    batch: Batch, ids: dict[tuple[str, str], int], *, fine_since: datetime
) -> tuple[int, int]:
    """Add the batch's minute buckets, and its 10-second buckets from ``fine_since`` on (older
    ones would be pruned at once), to the stored ones; the numbers of each written.

    On PostgreSQL one statement writes both (the 10-second buckets in a data-modifying ``WITH``
    that nothing reads, which PostgreSQL runs once the minute buckets are written: every writer
    sends the same statement, so all lock minute rows first, then 10-second rows, as on SQLite)
    and nothing is returned: PostgreSQL refuses to overflow a double. SQLite stores infinity,
    so there the minute sums come back to be checked (a 10-second sum is a part of its
    minute's: an overflow shows in the minute first).
    """
    minutes = [
        (ids[(name, key)], start, write) for (name, key, start), write in batch.minutes.items()
    ]
    since = fine_since.timestamp()
    fine = [
        (ids[(name, key)], start, write)
        for (name, key, start), write in batch.fine.items()
        if start >= since
    ]
    if not minutes:
        return 0, len(fine)
    if is_postgres():
        sql = _bucket_sql(BUCKET, returning=False)
        params = _bucket_params(minutes)
        if fine:
            sql = f"WITH fine AS ({_bucket_sql(FINE, returning=False)}) {sql}"
            params = _bucket_params(fine) + params
        with _overflow_as_error():
            _execute(sql, params)
        return len(minutes), len(fine)
    returned = _execute(_bucket_sql(BUCKET, returning=True), _bucket_params(minutes))
    over = {pk for pk, total in returned if not math.isfinite(total)}
    if over:
        raise Overflow({key for key, pk in ids.items() if pk in over})
    if fine:
        _execute(_bucket_sql(FINE, returning=False), _bucket_params(fine))
    return len(minutes), len(fine)


def _bucket_params(writes: list[tuple[int, int, MinuteWrite]]) -> list[Any]:
    """Bucket rows by series and start (epoch seconds): every writer locks them in this order."""
    writes.sort(key=_SERIES_AND_START)
    ordered = [write for _, _, write in writes]
    starts = [start for _, start, _ in writes]
    values: list[Any] = [
        [series_id for series_id, _, _ in writes],
        binary_arrays.EpochSecondsArray(starts)
        if is_postgres()
        else [datetime.fromtimestamp(start, UTC) for start in starts],
        [write.count for write in ordered],
        [float(write.sum) for write in ordered],
        [float(write.min) for write in ordered],
        [float(write.max) for write in ordered],
        [float(write.last) for write in ordered],
        [write.last_at for write in ordered],
    ]
    return _params(BUCKET_COLUMNS, values)


_SERIES_AND_START = itemgetter(0, 1)


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
    minutes = {datetime.fromtimestamp(minute, UTC) for _, _, minute in batch.minutes}
    sums = Bucket.objects.filter(
        series__name__in=names, series__labels_key__in=keys, start__in=minutes
    ).values_list("series__name", "series__labels_key", "start", "sum")
    for name, key, start, total in sums:
        write = batch.minutes.get((name, key, int(start.timestamp())))
        if write is not None and not math.isfinite(total + write.sum):
            over.add((name, key))
    return over


def series_limit() -> int:
    return settings.METRICS_SERIES_LIMIT


def service_series_limit() -> int:
    return settings.METRICS_MAX_SERIES_PER_SERVICE
