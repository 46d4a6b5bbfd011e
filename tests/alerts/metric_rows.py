"""Write metric storage rows directly: series, 1-minute buckets and the rollups made from them.

Every minute written lands in its bucket and in the 5-minute and hourly rollups, so whichever
resolution the rule language reads for a window (buckets now, rollups for ``offset 1w``), it
sees the same figures.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import TypeVar

from metrics_app.catalogue import get_metric
from metrics_app.models import Bucket, Rollup, Series

_Row = TypeVar("_Row", Bucket, Rollup)


def floor_minute(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


def minutes_between(start: datetime, end: datetime) -> list[datetime]:
    """Every minute from ``start`` to ``end`` inclusive (floored to minutes)."""
    first, last = floor_minute(start), floor_minute(end)
    count = int((last - first).total_seconds() // 60) + 1
    return [first + timedelta(minutes=i) for i in range(count)]


class Store:
    """Collects (series, minute, increments or gauge values) and writes them in bulk."""

    def __init__(self) -> None:
        self.points: dict[tuple[str, str], dict[datetime, list[float]]] = defaultdict(
            lambda: defaultdict(list)
        )
        self.kinds: dict[tuple[str, str], str] = {}
        self.labels: dict[tuple[str, str], dict[str, str]] = {}

    def _add(
        self, name: str, labels: dict[str, str], kind: str, minute: datetime, v: float
    ) -> None:
        key = (name, json.dumps(sorted(labels.items())))
        self.kinds[key] = kind
        self.labels[key] = labels
        self.points[key][floor_minute(minute)].append(v)

    def counter(
        self, name: str, labels: dict[str, str], minutes: Iterable[datetime], per_minute: float
    ) -> None:
        for minute in minutes:
            self._add(name, labels, "counter", minute, per_minute)

    def gauge(
        self, name: str, labels: dict[str, str], minutes: Iterable[datetime], value: float
    ) -> None:
        for minute in minutes:
            self._add(name, labels, "gauge", minute, value)

    def observe(
        self,
        family: str,
        labels: dict[str, str],
        minutes: Iterable[datetime],
        values: list[float],
    ) -> None:
        """Histogram observations each minute: _count, _sum and every cumulative _bucket."""
        spec = get_metric(family)
        assert spec is not None and spec.type == "histogram"
        bounds = [*(str(int(b)) if b == int(b) else str(b) for b in spec.buckets), "+Inf"]
        limits = [*spec.buckets, float("inf")]
        for minute in list(minutes):
            self._add(f"{family}_count", labels, "counter", minute, float(len(values)))
            self._add(f"{family}_sum", labels, "counter", minute, float(sum(values)))
            for bound, limit in zip(bounds, limits, strict=True):
                hits = sum(1 for value in values if value <= limit)
                self._add(f"{family}_bucket", {**labels, "le": bound}, "counter", minute, hits)

    def save(self) -> None:
        for key, minutes in self.points.items():
            self._save_series(key, minutes)

    def _save_series(self, key: tuple[str, str], minutes: dict[datetime, list[float]]) -> None:
        name, labels_key = key
        kind = self.kinds[key]
        ordered = sorted(minutes)
        values = [v for minute in ordered for v in minutes[minute]]
        series = Series.objects.create(
            name=name,
            family=_family(name),
            labels=self.labels[key],
            labels_key=labels_key,
            kind=kind,
            value=sum(values) if kind == "counter" else values[-1],
            value_at=ordered[-1],
            created_at=ordered[0] - timedelta(days=30),
            updated_at=ordered[-1],
        )
        Bucket.objects.bulk_create(
            _row(Bucket, series, minute, minutes[minute], kind, minute) for minute in ordered
        )
        for resolution in (300, 3600):
            grouped: dict[datetime, list[float]] = defaultdict(list)
            last_at: dict[datetime, datetime] = {}
            for minute in ordered:
                start = _floor(minute, resolution)
                grouped[start].extend(minutes[minute])
                last_at[start] = minute
            Rollup.objects.bulk_create(
                _row(Rollup, series, start, vals, kind, last_at[start], resolution=resolution)
                for start, vals in grouped.items()
            )


def _row(
    model: type[_Row],
    series: Series,
    start: datetime,
    values: list[float],
    kind: str,
    last_at: datetime,
    **extra: int,
) -> _Row:
    count = len(values)
    return model(
        series=series,
        start=start,
        count=count,
        sum=sum(values),
        min=min(values),
        max=max(values),
        last=values[-1],
        last_at=last_at,
        **extra,
    )


def _floor(moment: datetime, seconds: int) -> datetime:
    epoch = int(moment.timestamp())
    return datetime.fromtimestamp(epoch - epoch % seconds, tz=moment.tzinfo)


def _family(name: str) -> str:
    for suffix in ("_bucket", "_count", "_sum"):
        if name.endswith(suffix) and get_metric(name[: -len(suffix)]) is not None:
            return name[: -len(suffix)]
    return name
