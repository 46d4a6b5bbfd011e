"""Reads of metrics_app: business figures, series lookup, a series' values over time."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Max, Min, QuerySet, Sum
from django.utils import timezone

from metrics_app.aggregation import floor_to
from metrics_app.models import Bucket, Rollup, Series

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


def _number(value: float | None) -> int | float:
    value = float(value or 0.0)
    return int(value) if value.is_integer() else value


def business_totals() -> dict[str, int | float]:
    """The stored cumulative totals (counters) and current value (gauge)."""
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


def _bucket_boundary(start: datetime) -> datetime:
    """From here on, minute buckets hold the data; before it, hourly rollups do."""
    oldest = Bucket.objects.aggregate(at=Min("start"))["at"]
    if oldest is None or oldest <= start:
        return start
    boundary = floor_to(oldest, HOUR)
    return boundary if boundary == oldest else boundary + timedelta(seconds=HOUR)


def _window_sums(names: Iterable[str], start: datetime, end: datetime) -> dict[str, float]:
    boundary = _bucket_boundary(start)
    totals: dict[str, float] = {}
    recent = (
        Bucket.objects.filter(series__name__in=names, start__gte=boundary, start__lte=end)
        .order_by()
        .values("series__name")
        .annotate(total=Sum("sum"))
    )
    older = (
        Rollup.objects.filter(
            series__name__in=names,
            resolution=Rollup.Resolution.HOUR,
            start__gte=floor_to(start, HOUR),
            start__lt=boundary,
        )
        .order_by()
        .values("series__name")
        .annotate(total=Sum("sum"))
    )
    for row in [*recent, *older] if boundary > start else recent:
        totals[row["series__name"]] = totals.get(row["series__name"], 0.0) + row["total"]
    return totals


def _window_gauge(name: str, start: datetime, end: datetime) -> float:
    """The gauge's last value in the window, summed over its label sets."""
    latest = (
        Bucket.objects.filter(series__name=name, start__gte=start, start__lte=end)
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
    """The same figures for the last ``window``: increments summed, the gauge's latest value."""
    now = now or timezone.now()
    start = now - window
    sums = _window_sums(BUSINESS_COUNTERS.values(), start, now)
    figures = {field: _number(sums.get(name)) for field, name in BUSINESS_COUNTERS.items()}
    figures[BUSINESS_GAUGE[0]] = _number(_window_gauge(BUSINESS_GAUGE[1], start, now))
    return figures


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
