"""Reads of metrics_app: business figures, series lookup, a series' values over time."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import Max, Q, QuerySet, Sum
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from metrics_app import backend
from metrics_app.aggregation import ceil_to, floor_to, rollups_final_before
from metrics_app.catalogue import COUNTER
from metrics_app.models import Bucket, FineBucket, Rollup, Series

# /api/business-metrics: JSON field -> series name. Counters add up; the gauge is summed over
# the label sets (one per reporting service).
BUSINESS_COUNTERS = {
    "totalTicketsSold": "tickets_sold_total",
    "totalRevenue": "revenue_total_cents",
    "totalRefunds": "refunds_processed_total",
}
BUSINESS_GAUGE = ("activeListings", "marketplace_active_listings")
WINDOWS = {"1h": timedelta(hours=1), "24h": timedelta(hours=24), "7d": timedelta(days=7)}
RESOLUTIONS = {"1m": 60, "5m": 300, "1h": 3600, "60": 60, "300": 300, "3600": 3600}
HOUR = 3600
FIVE_MINUTES = 300
MINUTE = 60
ONE_MINUTE = timedelta(minutes=1)


def _number(value: float | None) -> int | float:
    value = float(value or 0.0)
    return int(value) if value.is_integer() else value


def business_totals() -> dict[str, int | float]:
    """The stored cumulative totals (counters) and current value (gauge)."""
    if backend.uses_prometheus():
        queries = backend.business_totals_query(BUSINESS_COUNTERS, BUSINESS_GAUGE)
        return _business_figures(backend.read_figures(queries, at=timezone.now()))
    names = [*BUSINESS_COUNTERS.values(), BUSINESS_GAUGE[1]]
    sums = dict(
        Series.objects.filter(name__in=names)
        .order_by()
        .values("name")
        .annotate(total=Sum("value"))
        .values_list("name", "total")
    )
    figures = {field: _number(sums.get(name)) for field, name in BUSINESS_COUNTERS.items()}
    figures[BUSINESS_GAUGE[0]] = _number(sums.get(BUSINESS_GAUGE[1]))
    return figures


@dataclass(frozen=True)
class Span:
    """The minute buckets a window reads: those starting in ``[first, end)``.

    For a window W at instant t that is every bucket starting in (t - W, t]: the whole minutes
    inside the window and the current, partial one.
    """

    first: datetime
    end: datetime

    @classmethod
    def of(cls, window: timedelta, now: datetime) -> Span:
        return cls(
            first=floor_to(now - window, MINUTE) + ONE_MINUTE,
            end=floor_to(now, MINUTE) + ONE_MINUTE,
        )


def _final_before(now: datetime) -> datetime:
    """Rollups of periods before this are read instead of buckets: final, or all that is left.

    Past the bucket retention (less an hour, so a cleanup running now cannot race the read) the
    minute buckets may be gone and the rollups are the only record.
    """
    kept = timedelta(hours=settings.METRICS_BUCKET_RETENTION_HOURS - 1)
    oldest_bucket = floor_to(now - kept, FIVE_MINUTES)
    final = rollups_final_before()
    return oldest_bucket if final is None else max(final, oldest_bucket)


def rollup_ranges(span: Span, final_before: datetime) -> list[tuple[int, datetime, datetime]]:
    """(resolution, start, end): the rollup periods wholly inside the span and before the mark.

    Whole hours come from hourly rollups, the rest of the final part from 5-minute ones; the
    buckets of everything else in the span are read as they are.
    """
    end = min(span.end, final_before)
    if end <= span.first:
        return []
    ranges: list[tuple[int, datetime, datetime]] = []
    hour_from, hour_to = ceil_to(span.first, HOUR), floor_to(end, HOUR)
    edges: list[tuple[datetime, datetime]] = [(span.first, end)]
    if hour_from < hour_to:
        ranges.append((HOUR, hour_from, hour_to))
        edges = [(span.first, hour_from), (hour_to, end)]
    for low, high in edges:
        low, high = ceil_to(low, FIVE_MINUTES), floor_to(high, FIVE_MINUTES)
        if low < high:
            ranges.append((FIVE_MINUTES, low, high))
    return ranges


def _window_sums(names: Iterable[str], span: Span, now: datetime) -> dict[str, float]:
    """Per series name: the sum over the span, each minute counted once (rollup or bucket)."""
    ids = dict(Series.objects.filter(name__in=list(names)).values_list("pk", "name"))
    if not ids:
        return {}
    ranges = rollup_ranges(span, _final_before(now))
    queries: list[QuerySet[Any]] = []
    # Index range scans over (series, start): the buckets are read only where no rollup is.
    leftover = _bucket_ranges(span, [(low, high) for _, low, high in ranges])
    if leftover:
        queries.append(Bucket.objects.filter(_any_range(leftover), series_id__in=list(ids)))
    if ranges:
        covered = Q()
        for resolution, low, high in ranges:
            covered |= Q(resolution=resolution, start__gte=low, start__lt=high)
        queries.append(Rollup.objects.filter(covered, series_id__in=list(ids)))
    totals: dict[str, float] = {}
    for query in queries:
        for row in query.order_by().values("series_id").annotate(total=Sum("sum")):
            name = ids[row["series_id"]]
            totals[name] = totals.get(name, 0.0) + (row["total"] or 0.0)
    return totals


def _bucket_ranges(
    span: Span, covered: list[tuple[datetime, datetime]]
) -> list[tuple[datetime, datetime]]:
    """The parts of the span no rollup range covers (the ranges do not overlap)."""
    left, cursor = [], span.first
    for low, high in sorted(covered):
        if cursor < low:
            left.append((cursor, low))
        cursor = max(cursor, high)
    if cursor < span.end:
        left.append((cursor, span.end))
    return left


def _any_range(ranges: list[tuple[datetime, datetime]]) -> Q:
    condition = Q()
    for low, high in ranges:
        condition |= Q(start__gte=low, start__lt=high)
    return condition


def _window_gauge(name: str, span: Span) -> float:
    """The gauge's last value in the span, summed over its label sets."""
    latest = (
        Bucket.objects.filter(series__name=name, start__gte=span.first, start__lt=span.end)
        .order_by()
        .values("series_id")
        .annotate(at=Max("start"))
    )
    wanted = {(row["series_id"], row["at"]) for row in latest}
    if not wanted:
        return 0.0
    rows = Bucket.objects.filter(
        series_id__in={series for series, _ in wanted}, start__in={at for _, at in wanted}
    ).values_list("series_id", "start", "last")
    return sum(last for series, at, last in rows if (series, at) in wanted)


def business_window(window: timedelta, *, now: datetime | None = None) -> dict[str, int | float]:
    """The figures for the window (now - window, now]: increments summed, the gauge's latest.

    Exact at any moment: every minute bucket starting in the window is counted once, from the
    rollup that holds it when that rollup is final, else from the bucket itself.
    """
    now = now or timezone.now()
    if backend.uses_prometheus():
        seconds = int(window.total_seconds())
        queries = backend.business_window_query(BUSINESS_COUNTERS, BUSINESS_GAUGE, seconds)
        return _business_figures(backend.read_figures(queries, at=now))
    span = Span.of(window, now)
    sums = _window_sums(BUSINESS_COUNTERS.values(), span, now)
    figures = {field: _number(sums.get(name)) for field, name in BUSINESS_COUNTERS.items()}
    figures[BUSINESS_GAUGE[0]] = _number(_window_gauge(BUSINESS_GAUGE[1], span))
    return figures


def _business_figures(found: dict[str, float]) -> dict[str, int | float]:
    fields = [*BUSINESS_COUNTERS, BUSINESS_GAUGE[0]]
    return {field: _number(found.get(field)) for field in fields}


def counter_sums(
    names: Iterable[str], *, start: datetime, end: datetime, now: datetime | None = None
) -> dict[str, float]:
    """Per counter series name, its increments in ``[start, end)`` (whole minutes).

    Exact as :func:`business_window` is (each minute once, from its final rollup or its bucket).
    A name with no stored minute in the range is absent, so "no data" is not read as zero.
    With the Prometheus backend each is the ``increase`` over the range (approximate: see
    docs/rules.md), absent when the backend holds no sample of it there.
    """
    if backend.uses_prometheus():
        seconds = int((end - start).total_seconds())
        queries = {name: f"sum(increase({name}[{seconds}s]))" for name in names}
        return backend.read_figures(queries, at=end)
    return _window_sums(names, Span(first=start, end=end), now or timezone.now())


def series_matching(*, metric: str = "", labels: dict[str, str] | None = None) -> QuerySet:
    """Series of a family or series name, whose labels include ``labels``."""
    queryset = Series.objects.all()
    if metric:
        queryset = queryset.filter(family=metric) | queryset.filter(name=metric)
    for name, value in (labels or {}).items():
        queryset = queryset.filter(**{f"labels__{name}": value})
    return queryset.order_by("name", "labels_key")


def series_points(
    *, series: Series, start: datetime, end: datetime, resolution: int
) -> list[dict[str, Any]]:
    """A series' buckets (60 s) or rollups (300 s, 3600 s) from ``start`` to ``end``."""
    if resolution == 60:
        rows: QuerySet = Bucket.objects.filter(series=series)
    else:
        rows = Rollup.objects.filter(series=series, resolution=resolution)
    rows = rows.filter(start__gte=floor_to(start, resolution), start__lte=end).order_by("start")
    return [
        {
            "start": row.start,
            "count": row.count,
            "sum": row.sum,
            "min": row.min,
            "max": row.max,
            "last": row.last,
            "mean": row.sum / row.count if row.count else None,
        }
        for row in rows
    ]


# --- windows of a set of series, for the rule language ---------------------------------------
# The SQL is assembled from quoted table and column names and from Django-compiled series
# subqueries; every value (label values, times) is a query parameter (hence the S608 waivers).


@dataclass
class SeriesData:
    """One series' figures in a leaf's window (or its instant value)."""

    labels: dict[str, str]
    count: float = 0.0
    total: float = 0.0
    low: float = math.nan
    high: float = math.nan
    last: float = math.nan
    value: float = math.nan
    # Sliding windows over 10-second buckets (fine_window_figures): the counter's increase over
    # the window, extrapolated to its edges as PromQL does (None: not a sliding counter window).
    increase: float | None = None
    # (epoch seconds, value) of each row in the window: the latest value of each minute (or
    # rollup period), for the functions that need the points themselves (predict_linear).
    points: list[tuple[float, float]] | None = None


@dataclass(frozen=True)
class Segment:
    """Rows of one table (``bucket`` or a rollup resolution) with ``lo <= start < hi``."""

    resolution: int  # 60 = 1-minute buckets
    lo: datetime
    hi: datetime


def series_named(name: str, exact: Sequence[tuple[str, str]]) -> QuerySet[Series]:
    """Series called ``name`` whose labels have the ``exact`` values SQL can check.

    Only non-empty values of label names that cannot be read as a JSON lookup (``contains``) are
    pushed down; the caller checks every matcher again on what comes back.
    """
    lookups = Series._meta.get_field("labels").get_lookups()
    queryset = Series.objects.filter(name=name)
    for label, value in exact:
        if value != "" and "__" not in label and label not in lookups:
            queryset = queryset.filter(**{f"labels__{label}": value})
    return queryset


def _series_subquery(name: str, exact: Sequence[tuple[str, str]]) -> tuple[str, tuple[Any, ...]]:
    sql, params = series_named(name, exact).values("id").query.sql_with_params()
    return sql, tuple(params)


def _union(segments: list[Segment], subquery: tuple[str, tuple[Any, ...]]) -> tuple[str, list]:
    q = connection.ops.quote_name
    columns = ", ".join(
        ["series_id", "start", *(q(c) for c in ("count", "sum", "min", "max", "last")), "last_at"]
    )
    parts, params = [], []
    for seg in segments:
        adapt = connection.ops.adapt_datetimefield_value
        if seg.resolution == 60:
            parts.append(
                f"SELECT {columns} FROM {q(Bucket._meta.db_table)} "  # noqa: S608
                f"WHERE series_id IN ({subquery[0]}) AND start >= %s AND start < %s"
            )
            params += [*subquery[1], adapt(seg.lo), adapt(seg.hi)]
        else:
            parts.append(
                f"SELECT {columns} FROM {q(Rollup._meta.db_table)} "  # noqa: S608
                f"WHERE series_id IN ({subquery[0]}) AND resolution = %s "
                "AND start >= %s AND start < %s"
            )
            params += [*subquery[1], seg.resolution, adapt(seg.lo), adapt(seg.hi)]
    return " UNION ALL ".join(parts), params


def _fold_sql(union: str, *, counter: bool) -> str:
    """Per series: count, sum of sums, min, max and the latest ``last`` of the rows.

    A counter's functions only need the count and the sum, so its fold skips the sort that
    picking the latest value costs.
    """
    q = connection.ops.quote_name
    sums = f"SUM({q('count')}) AS n, SUM({q('sum')}) AS total"
    if counter:
        return (
            f"SELECT series_id, {sums}, NULL AS lo, NULL AS hi, NULL AS latest "  # noqa: S608
            f"FROM ({union}) AS p GROUP BY series_id"
        )
    if connection.vendor == "postgresql":
        return (
            f"SELECT series_id, {sums}, MIN({q('min')}) AS lo, MAX({q('max')}) AS hi, "  # noqa: S608
            f"(ARRAY_AGG({q('last')} ORDER BY last_at DESC, start DESC))[1] AS latest "
            f"FROM ({union}) AS p GROUP BY series_id"
        )
    return (
        "SELECT series_id, n, total, lo, hi, latest FROM ("  # noqa: S608
        f"SELECT series_id, SUM({q('count')}) OVER w AS n, SUM({q('sum')}) OVER w AS total, "
        f"MIN({q('min')}) OVER w AS lo, MAX({q('max')}) OVER w AS hi, {q('last')} AS latest, "
        "ROW_NUMBER() OVER (PARTITION BY series_id ORDER BY last_at DESC, start DESC) AS rn "
        f"FROM ({union}) AS p WINDOW w AS (PARTITION BY series_id)) AS f WHERE rn = 1"
    )


def window_figures(
    *,
    name: str,
    exact: Sequence[tuple[str, str]],
    segments: list[Segment],
    counters_since: datetime | None,
    counter: bool,
) -> list[SeriesData]:
    """Per series of ``name`` (with the ``exact`` label values): its buckets and rollups in
    ``segments`` folded into count, sum, min, max and latest value, in one query.

    With ``counters_since``, a counter series that existed before it but received nothing in the
    window is kept (it increased by 0). ``counter`` skips what only gauges need (the latest value).
    """
    subquery = _series_subquery(name, exact)
    union, params = _union(segments, subquery)
    series = connection.ops.quote_name(Series._meta.db_table)
    # A counter that existed but received nothing in the window increased by 0: it stays in the
    # result (as it would in Prometheus, which scrapes the unchanged total).
    keep = "d.series_id IS NOT NULL"
    counter = counter and counters_since is not None
    extra: list[Any] = []
    if counters_since is not None:
        keep = f"({keep} OR (s.kind = %s AND s.created_at < %s))"
        extra = [COUNTER, connection.ops.adapt_datetimefield_value(counters_since)]
    sql = (
        f"SELECT s.labels, d.n, d.total, d.lo, d.hi, d.latest FROM {series} AS s "  # noqa: S608
        f"LEFT JOIN ({_fold_sql(union, counter=counter)}) AS d ON d.series_id = s.id "
        f"WHERE s.id IN ({subquery[0]}) AND {keep}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, *subquery[1], *extra])
        return [
            SeriesData(
                labels=_labels(labels),
                count=float(n or 0),
                total=float(total or 0.0),
                low=_float(lo),
                high=_float(hi),
                last=_float(latest),
            )
            for labels, n, total, lo, hi, latest in cursor.fetchall()
        ]


def counter_totals(
    *, name: str, exact: Sequence[tuple[str, str]], after: list[Segment], end: datetime
) -> list[SeriesData]:
    """Each counter series' cumulative total at ``end``: its stored total minus what came later."""
    subquery = _series_subquery(name, exact)
    union, params = _union(after, subquery)
    series = connection.ops.quote_name(Series._meta.db_table)
    total = connection.ops.quote_name("sum")
    sql = (
        f"SELECT s.labels, s.value, d.later FROM {series} AS s "  # noqa: S608
        f"LEFT JOIN (SELECT series_id, SUM({total}) AS later FROM ({union}) AS p "
        "GROUP BY series_id) AS d ON d.series_id = s.id "
        f"WHERE s.id IN ({subquery[0]}) AND s.created_at < %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, *subquery[1], connection.ops.adapt_datetimefield_value(end)])
        return [
            SeriesData(labels=_labels(labels), value=float(value) - float(later or 0.0))
            for labels, value, later in cursor.fetchall()
        ]


def _labels(raw: Any) -> dict[str, str]:
    if isinstance(raw, (str, bytes)):
        return dict(_decoded(raw))
    return {str(k): str(v) for k, v in (raw or {}).items()}


@lru_cache(maxsize=65536)
def _decoded(raw: str | bytes) -> tuple[tuple[str, str], ...]:
    # the same series comes back in many leaves of a cycle, and cycle after cycle
    return tuple((str(k), str(v)) for k, v in (json.loads(raw) or {}).items())


def _float(value: Any) -> float:
    return math.nan if value is None else float(value)


def series_buckets(series: QuerySet[Series], *, lo: datetime, hi: datetime) -> Iterator[tuple]:
    """The 1-minute buckets of ``series`` from ``lo`` to ``hi``, by series then time, as tuples
    (series id, start, count, sum, min, max, last, last_at), streamed in chunks."""
    rows = (
        Bucket.objects.filter(series__in=series, start__gte=lo, start__lt=hi)
        .order_by("series_id", "start")
        .values_list("series_id", "start", "count", "sum", "min", "max", "last", "last_at")
    )
    return rows.iterator(chunk_size=5000)


def series_names_updated(*, since: datetime) -> set[str]:
    """The names of the series that received samples after ``since`` (by ``updated_at``)."""
    return set(
        Series.objects.filter(updated_at__gt=since)
        .order_by()
        .values_list("name", flat=True)
        .distinct()
    )


def series_rollups(
    series: QuerySet[Series], *, resolution: int, lo: datetime, hi: datetime
) -> Iterator[tuple]:
    """The rollups of ``resolution`` seconds of ``series`` from ``lo`` to ``hi``, by series then
    time, as tuples (series id, start, count, sum, min, max, last, last_at), streamed in chunks."""
    rows = (
        Rollup.objects.filter(series__in=series, resolution=resolution, start__gte=lo, start__lt=hi)
        .order_by("series_id", "start")
        .values_list("series_id", "start", "count", "sum", "min", "max", "last", "last_at")
    )
    return rows.iterator(chunk_size=5000)


# --- sliding windows over 10-second buckets (issue #19) -------------------------------------


@dataclass(frozen=True)
class FineFold:
    """One series' 10-second buckets whose latest sample lies in a window (as epoch seconds)."""

    labels: dict[str, str]
    created: float
    points: int = 0
    count: float = 0.0
    total: float = 0.0
    low: float = math.nan
    high: float = math.nan
    last: float = math.nan
    first_start: float = math.nan  # start of the earliest bucket read
    first_sum: float = 0.0  # what that bucket added


def _fine_fold_sql() -> str:
    """Per series: buckets, count, sum, min, max, latest value, and the earliest bucket's start
    and sum, of the 10-second buckets with ``after < last_at <= until`` (and a start bound for
    the index)."""
    q = connection.ops.quote_name
    table = q(FineBucket._meta.db_table)
    where = (
        "series_id IN ({ids}) AND start >= %s AND start <= %s AND last_at > %s AND last_at <= %s"
    )
    if connection.vendor == "postgresql":
        return (
            f"SELECT series_id, COUNT(*) AS points, SUM({q('count')}) AS n, "  # noqa: S608
            f"SUM({q('sum')}) AS total, MIN({q('min')}) AS lo, MAX({q('max')}) AS hi, "
            f"(ARRAY_AGG({q('last')} ORDER BY last_at DESC))[1] AS latest, "
            "MIN(start) AS first_start, "
            f"(ARRAY_AGG({q('sum')} ORDER BY start))[1] AS first_sum "
            f"FROM {table} WHERE {where} GROUP BY series_id"
        )
    return (
        "SELECT series_id, points, n, total, lo, hi, latest, first_start, first_sum FROM ("  # noqa: S608
        f"SELECT series_id, COUNT(*) OVER w AS points, SUM({q('count')}) OVER w AS n, "
        f"SUM({q('sum')}) OVER w AS total, MIN({q('min')}) OVER w AS lo, "
        f"MAX({q('max')}) OVER w AS hi, {q('last')} AS latest, "
        "MIN(start) OVER w AS first_start, "
        f"FIRST_VALUE({q('sum')}) OVER (PARTITION BY series_id ORDER BY start) AS first_sum, "
        "ROW_NUMBER() OVER (PARTITION BY series_id ORDER BY last_at DESC, start DESC) AS rn "
        f"FROM {table} WHERE {where} WINDOW w AS (PARTITION BY series_id)) AS f WHERE rn = 1"
    )


def fine_window_figures(
    *,
    name: str,
    exact: Sequence[tuple[str, str]],
    after: datetime,
    until: datetime,
    keep_counters: bool,
) -> list[FineFold]:
    """Per series of ``name``: its 10-second buckets whose latest sample is in ``(after, until]``,
    folded, in one query. With ``keep_counters`` a counter series that existed before ``until``
    but received nothing in the window is kept (it increased by 0, as in Prometheus)."""
    sql, params = _series_subquery(name, exact)
    series = connection.ops.quote_name(Series._meta.db_table)
    adapt = connection.ops.adapt_datetimefield_value
    fold = _fine_fold_sql().format(ids=sql)
    keep = "d.series_id IS NOT NULL"
    extra: list[Any] = []
    if keep_counters:
        keep = f"({keep} OR (s.kind = %s AND s.created_at < %s))"
        extra = [COUNTER, adapt(until)]
    window = [adapt(after - timedelta(seconds=10)), adapt(until), adapt(after), adapt(until)]
    query = (
        "SELECT s.labels, s.created_at, d.points, d.n, d.total, d.lo, d.hi, d.latest, "  # noqa: S608
        f"d.first_start, d.first_sum FROM {series} AS s LEFT JOIN ({fold}) AS d "
        f"ON d.series_id = s.id WHERE s.id IN ({sql}) AND {keep}"
    )
    with connection.cursor() as cursor:
        cursor.execute(query, [*params, *window, *params, *extra])
        rows = cursor.fetchall()
    return [
        FineFold(
            labels=_labels(labels),
            created=_epoch(created),
            points=int(points or 0),
            count=float(n or 0),
            total=float(total or 0.0),
            low=_float(lo),
            high=_float(hi),
            last=_float(latest),
            first_start=_epoch(first_start),
            first_sum=float(first_sum or 0.0),
        )
        for labels, created, points, n, total, lo, hi, latest, first_start, first_sum in rows
    ]


def _epoch(value: Any) -> float:
    """A timestamp from the database (SQLite gives text) as epoch seconds; NaN for NULL."""
    if value is None:
        return math.nan
    if isinstance(value, str):
        parsed = parse_datetime(value)
        if parsed is None:
            return math.nan
        value = parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    if timezone.is_naive(value):
        value = value.replace(tzinfo=UTC)
    return float(value.timestamp())


def fine_buckets_since() -> datetime | None:
    """From when the 10-second buckets hold every sample: None when there are none.

    The start of the oldest one, unless no minute bucket is older than it either (all the data
    there is was written with its 10-second buckets): then since the beginning (``datetime.min``).
    """
    oldest = FineBucket.objects.order_by("start").values_list("start", flat=True).first()
    if oldest is None:
        return None
    minute = oldest.replace(second=0, microsecond=0)
    if not Bucket.objects.filter(start__lt=minute).exists():
        return datetime.min.replace(tzinfo=UTC)
    return oldest + timedelta(seconds=10)


def window_points(
    *, name: str, exact: Sequence[tuple[str, str]], segments: list[Segment]
) -> dict[tuple[tuple[str, str], ...], list[tuple[float, float]]]:
    """Per series (its sorted labels): ``(last_at, last)`` of each bucket or rollup in
    ``segments``, in time order; one query per segment."""
    series = series_named(name, exact)
    labels = {
        sid: tuple(sorted(_labels(raw).items())) for sid, raw in series.values_list("id", "labels")
    }
    found: dict[tuple[tuple[str, str], ...], list[tuple[float, float]]] = {}
    for seg in segments:
        rows: QuerySet[Bucket] | QuerySet[Rollup]
        if seg.resolution == 60:
            rows = Bucket.objects.filter(series__in=series, start__gte=seg.lo, start__lt=seg.hi)
        else:
            rows = Rollup.objects.filter(
                series__in=series, resolution=seg.resolution, start__gte=seg.lo, start__lt=seg.hi
            )
        for sid, last_at, last in rows.order_by("start").values_list(
            "series_id", "last_at", "last"
        ):
            key = labels.get(sid)
            if key is not None:
                found.setdefault(key, []).append((last_at.timestamp(), float(last)))
    for points in found.values():
        points.sort()
    return found
