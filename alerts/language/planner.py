"""Leaves: the distinct (selector, window, offset, resolution) reads of a cycle, one query each.

A leaf's query matches the series (metric name and exact label values in SQL on the JSON labels)
and folds their buckets or rollups in the window per series in SQL; regex and negative matchers
are applied in Python to the matched series (a metric has at most a few thousand series), with
RE2 (``alerts/rules/regex.py``): never pushed down to SQL, where PostgreSQL's ``~`` and SQLite's
REGEXP backtrack.

Resolution: see docs/rules.md, "Windows and resolution".

The SQL is assembled from quoted table and column names and from Django-compiled series
subqueries; every value (label values, times) is a query parameter (hence the S608 waivers).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.db import connection

from alerts.language.regex import regex_matches
from alerts.language.tree import Matcher, Selector
from metrics_app.catalogue import COUNTER, builtin_metrics, resolve_series_name
from metrics_app.models import Bucket, Rollup, Series

LOOKBACK = 300  # an instant selector reads the last 5 minutes of a gauge
FINE_MAX_WINDOW = 6 * 3600  # longest window read from 1-minute buckets
FIVE_MAX_WINDOW = 7 * 86400  # longest window read from 5-minute rollups
SETTLE = 3600  # rollups younger than this may still change (late samples): read buckets instead
FUTURE = 86400  # how far past the instant "everything after" reaches


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


@dataclass(frozen=True)
class Segment:
    """Rows of one table (``bucket`` or a rollup resolution) with ``lo <= start < hi``."""

    resolution: int  # 60 = 1-minute buckets
    lo: datetime
    hi: datetime


def floor_to(moment: datetime, seconds: int) -> datetime:
    epoch = math.floor(moment.timestamp())
    return datetime.fromtimestamp(epoch - epoch % seconds, tz=UTC)


def ceil_to(moment: datetime, seconds: int) -> datetime:
    floored = floor_to(moment, seconds)
    return floored if floored == moment else floored + timedelta(seconds=seconds)


def window_end(at: datetime, offset: int) -> datetime:
    """Exclusive end of a window: the end of the minute holding ``at - offset``."""
    return floor_to(at - timedelta(seconds=offset), 60) + timedelta(minutes=1)


def minutes_of(window: int) -> int:
    return max(1, math.ceil(window / 60))


class Horizons:
    """Where each resolution's data begins (retention), relative to the real clock."""

    def __init__(self, now: datetime) -> None:
        self.now = now
        self.buckets = now - timedelta(hours=settings.METRICS_BUCKET_RETENTION_HOURS)
        self.five = now - timedelta(days=settings.METRICS_ROLLUP_5M_RETENTION_DAYS)

    def resolution(self, start: datetime, window: int) -> int:
        """The resolution of a window of ``window`` seconds starting at ``start``."""
        if window <= FINE_MAX_WINDOW and start >= self.buckets:
            return 60
        if window <= FIVE_MAX_WINDOW and start >= self.five:
            return 300
        return 3600

    def segments(self, start: datetime, end: datetime, window: int) -> list[Segment]:
        """The rows that cover ``[start, end)``: rollups for the settled past, buckets after."""
        res = self.resolution(start, window)
        if res == 60:
            return [Segment(60, start, end)]
        lo = floor_to(start, res)
        settled = floor_to(min(end, self.now - timedelta(seconds=SETTLE)), res)
        settled = max(settled, lo)
        out = [Segment(res, lo, settled)] if settled > lo else []
        if end > settled:
            if settled >= self.buckets:
                out.append(Segment(60, settled, end))
            else:
                out.append(Segment(res, settled, ceil_to(end, res)))
        return out

    def after(self, moment: datetime) -> list[Segment]:
        """The rows holding every increment recorded from ``moment`` on."""
        far = self.now + timedelta(seconds=FUTURE)
        if moment >= self.buckets:
            return [Segment(60, moment, far)]
        res = 300 if moment >= self.five else 3600
        boundary = ceil_to(self.buckets, 3600)
        return [Segment(res, ceil_to(moment, res), boundary), Segment(60, boundary, far)]


@lru_cache(maxsize=1)
def _builtin_kinds() -> dict[str, str]:
    """Series name -> counter|gauge for the built-in catalogue (no query, unlike the registry)."""
    kinds = {}
    for spec in builtin_metrics():
        for series_name in spec.series_names():
            plain = series_name == spec.name and spec.type != COUNTER
            kinds[series_name] = "gauge" if plain else COUNTER
    return kinds


def selector_kind(name: str) -> str:
    """Whether a selector reads a counter or a gauge (histogram and summary parts count)."""
    kind = _builtin_kinds().get(name)
    if kind is not None:
        return kind
    resolved = resolve_series_name(name)
    if resolved is None:
        return "gauge"
    spec, part = resolved
    return COUNTER if part or spec.type == COUNTER else "gauge"


def fetch(selector: Selector, *, at: datetime, horizons: Horizons) -> list[SeriesData]:
    """The data of one leaf, in one query."""
    end = window_end(at, selector.offset)
    if selector.window is not None:
        start = end - timedelta(minutes=minutes_of(selector.window))
        segments = horizons.segments(start, end, selector.window)
        rows = _aggregate(selector, segments, counters_since=end)
    elif selector_kind(selector.name) == COUNTER:
        rows = _counter_totals(selector, horizons.after(end), end)
    else:
        start = end - timedelta(seconds=LOOKBACK)
        rows = _aggregate(selector, horizons.segments(start, end, LOOKBACK), counters_since=None)
    return [row for row in rows if _matches(row.labels, selector.matchers)]


def _series_subquery(selector: Selector) -> tuple[str, tuple[Any, ...]]:
    qs = Series.objects.filter(name=selector.name)
    for matcher in _sql_matchers(selector.matchers):
        qs = qs.filter(**{f"labels__{matcher.label}": matcher.value})
    sql, params = qs.values("id").query.sql_with_params()
    return sql, tuple(params)


def _sql_matchers(matchers: Iterable[Matcher]) -> list[Matcher]:
    """Exact, non-empty matchers whose label name cannot be read as a lookup (``contains``)."""
    lookups = Series._meta.get_field("labels").get_lookups()
    return [
        m
        for m in matchers
        if m.op == "=" and m.value != "" and "__" not in m.label and m.label not in lookups
    ]


def _matches(labels: dict[str, str], matchers: Iterable[Matcher]) -> bool:
    for matcher in matchers:
        value = labels.get(matcher.label, "")
        if matcher.op == "=":
            ok = value == matcher.value
        elif matcher.op == "!=":
            ok = value != matcher.value
        else:
            found = regex_matches(matcher.value, value)
            ok = found if matcher.op == "=~" else not found
        if not ok:
            return False
    return True


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


def _aggregate(
    selector: Selector, segments: list[Segment], *, counters_since: datetime | None
) -> list[SeriesData]:
    subquery = _series_subquery(selector)
    union, params = _union(segments, subquery)
    series = connection.ops.quote_name(Series._meta.db_table)
    # A counter that existed but received nothing in the window increased by 0: it stays in the
    # result (as it would in Prometheus, which scrapes the unchanged total).
    keep = "d.series_id IS NOT NULL"
    counter = counters_since is not None and selector_kind(selector.name) == COUNTER
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


def _counter_totals(selector: Selector, after: list[Segment], end: datetime) -> list[SeriesData]:
    """Each counter's cumulative total at ``end``: its stored total minus what came later."""
    subquery = _series_subquery(selector)
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
