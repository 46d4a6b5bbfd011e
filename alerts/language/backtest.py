"""Backtest: one expression at every step of a past range.

Evaluating step by step would cost one query per leaf per step (1,441 steps for a day by the
minute). When every step of a leaf reads 1-minute buckets (the usual preview: a day of history,
windows up to 6 hours), the leaf's buckets over the whole range are read once (two queries: the
series, then their buckets) and each step is folded in memory with the same rules as
:func:`alerts.language.planner.fetch`. Other leaves (rollups, long offsets) are fetched per step.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import accumulate
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from alerts.language.planner import (
    FUTURE,
    LOOKBACK,
    Horizons,
    _matches,
    _series_of,
    fetch,
    minutes_of,
    selector_kind,
    window_end,
)
from alerts.language.tree import Selector
from metrics_app.catalogue import COUNTER
from metrics_app.selectors import SeriesData, series_buckets, series_named


@dataclass
class _History:
    """One series' buckets over the whole backtest, with running sums for O(1) windows."""

    labels: dict[str, str]
    kind: str
    created_at: datetime
    value: float
    starts: list[datetime] = field(default_factory=list)
    rows: list[tuple[float, float, float, float, float, datetime]] = field(default_factory=list)
    counts: list[float] = field(default_factory=list)
    sums: list[float] = field(default_factory=list)

    def index(self) -> None:
        self.counts = [0.0, *accumulate(r[0] for r in self.rows)]
        self.sums = [0.0, *accumulate(r[1] for r in self.rows)]

    def fold(self, start: datetime, end: datetime, *, points: bool = False) -> SeriesData | None:
        lo, hi = bisect.bisect_left(self.starts, start), bisect.bisect_left(self.starts, end)
        if lo == hi:
            return None
        chunk = self.rows[lo:hi]
        latest = max(chunk, key=lambda r: r[5])
        return SeriesData(
            points=sorted((r[5].timestamp(), r[4]) for r in chunk) if points else None,
            labels=dict(self.labels),
            count=self.counts[hi] - self.counts[lo],
            total=self.sums[hi] - self.sums[lo],
            low=min(r[2] for r in chunk),
            high=max(r[3] for r in chunk),
            last=latest[4],
        )

    def later(self, moment: datetime) -> float:
        return self.sums[-1] - self.sums[bisect.bisect_left(self.starts, moment)]


class LeafHistory:
    """A leaf's buckets for every step of a backtest, read once."""

    def __init__(
        self,
        selector: Selector,
        *,
        first: datetime,
        last: datetime,
        now: datetime,
        points: bool = False,
    ):
        self.selector = selector
        self.points = points
        self.counter = selector_kind(selector.name) == COUNTER
        lo, hi = self.span(first, last, now)
        self.series = self.load(lo, hi)

    def span(self, first: datetime, last: datetime, now: datetime) -> tuple[datetime, datetime]:
        sel = self.selector
        if sel.window is None and self.counter:
            return window_end(first, sel.offset), now + timedelta(seconds=FUTURE)
        return self.window(first)[0], window_end(last, sel.offset)

    def window(self, at: datetime) -> tuple[datetime, datetime]:
        end = window_end(at, self.selector.offset)
        if self.selector.window is None:
            return end - timedelta(seconds=LOOKBACK), end
        return end - timedelta(minutes=minutes_of(self.selector.window)), end

    def load(self, lo: datetime, hi: datetime) -> list[_History]:
        qs = series_named(**_series_of(self.selector))
        series = {
            sid: _History(labels, kind, created, value)
            for sid, labels, kind, created, value in qs.values_list(
                "id", "labels", "kind", "created_at", "value"
            )
            if _matches({k: str(v) for k, v in labels.items()}, self.selector.matchers)
        }
        rows = self.read(qs, lo=lo, hi=hi)
        for sid, start, count, total, low, high, last, last_at in rows:
            history = series.get(sid)
            if history is not None:
                history.starts.append(start)
                history.rows.append((float(count), total, low, high, last, last_at))
        for history in series.values():
            history.labels = {str(k): str(v) for k, v in history.labels.items()}
            history.index()
        return list(series.values())

    def read(self, series: QuerySet[Any], *, lo: datetime, hi: datetime) -> Iterator[tuple]:
        """The rows folded into each step's window: 1-minute buckets here."""
        return series_buckets(series, lo=lo, hi=hi)

    def at(self, moment: datetime) -> list[SeriesData]:
        start, end = self.window(moment)
        out: list[SeriesData] = []
        for history in self.series:
            if self.selector.window is None and self.counter:
                if history.created_at < end:
                    out.append(
                        SeriesData(dict(history.labels), value=history.value - history.later(end))
                    )
                continue
            data = history.fold(start, end, points=self.points)
            if data is None and self.counter and history.created_at < end:
                data = SeriesData(dict(history.labels), low=math.nan, high=math.nan)
            if data is not None:
                out.append(data)
        return out


def reads_buckets_only(selector: Selector, *, first: datetime, horizons: Horizons) -> bool:
    """Whether every step from ``first`` on reads this leaf from 1-minute buckets alone."""
    end = window_end(first, selector.offset)
    if selector.window is None:
        if selector_kind(selector.name) == COUNTER:
            return end >= horizons.buckets
        return horizons.resolution(end - timedelta(seconds=LOOKBACK), LOOKBACK) == 60
    start = end - timedelta(minutes=minutes_of(selector.window))
    return horizons.resolution(start, selector.window) == 60


class BacktestLeaves:
    """Per step, the leaves of one expression: from memory when possible, else one query."""

    def __init__(
        self,
        selectors: dict[tuple, Selector],
        *,
        first: datetime,
        last: datetime,
        points: set[tuple] | None = None,
    ):
        self.points = points or set()
        self.horizons = Horizons(timezone.now())
        self.selectors = selectors
        self.histories = {
            key: LeafHistory(
                sel, first=first, last=last, now=self.horizons.now, points=key in self.points
            )
            for key, sel in selectors.items()
            if reads_buckets_only(sel, first=first, horizons=self.horizons)
        }

    def at(self, moment: datetime) -> dict[tuple, list[SeriesData]]:
        return {
            key: (
                self.histories[key].at(moment)
                if key in self.histories
                else fetch(sel, at=moment, horizons=self.horizons, points=key in self.points)
            )
            for key, sel in self.selectors.items()
        }
