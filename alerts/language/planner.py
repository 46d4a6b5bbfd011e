"""Leaves: the distinct (selector, window, offset, resolution) reads of a cycle, one query each.

A leaf's query is a read of ``metrics_app.selectors`` (``window_figures``, ``counter_totals``): it
matches the series (metric name and exact label values) and folds their buckets or rollups in the
window per series in SQL; regex and negative matchers
are applied in Python to the matched series (a metric has at most a few thousand series), with
RE2 (``alerts/language/regex.py``): never pushed down to SQL, where PostgreSQL's ``~`` and SQLite's
REGEXP backtrack.

Resolution: see docs/rules.md, "Windows and resolution".
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from django.conf import settings

from alerts.language.regex import regex_matches
from alerts.language.tree import Matcher, Selector
from metrics_app.catalogue import COUNTER, builtin_metrics, resolve_series_name
from metrics_app.selectors import (
    FineFold,
    Segment,
    SeriesData,
    counter_totals,
    fine_buckets_since,
    fine_window_figures,
    window_figures,
    window_points,
)

LOOKBACK = 300  # an instant selector reads the last 5 minutes of a gauge
FINE_MAX_WINDOW = 6 * 3600  # longest window read from 1-minute buckets
FIVE_MAX_WINDOW = 7 * 86400  # longest window read from 5-minute rollups
SETTLE = 3600  # rollups younger than this may still change (late samples): read buckets instead
FUTURE = 86400  # how far past the instant "everything after" reaches
FINE = 10  # seconds of a fine bucket (metrics_app.models.FineBucket)
FINE_MARGIN = 5  # minutes of fine retention not read, so a prune running now cannot race a read
FAR = timedelta(days=36500)


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
        self._fine: datetime | None = None

    @property
    def fine(self) -> datetime:
        """Windows starting after this slide over 10-second buckets (see docs/rules.md).

        The retention less a margin (a prune running now cannot race the read), and never before
        the 10-second buckets hold every sample: right after an upgrade they hold the last
        minutes only, and the minute buckets are read instead.
        """
        if self._fine is None:
            margin = timedelta(minutes=settings.METRICS_FINE_RETENTION_MINUTES - FINE_MARGIN)
            since = fine_buckets_since()
            kept = self.now - margin
            self._fine = max(kept, since) if since is not None else self.now + FAR
        return self._fine

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


def fetch(
    selector: Selector, *, at: datetime, horizons: Horizons, points: bool = False
) -> list[SeriesData]:
    """The data of one leaf, in one query (and one more per segment with ``points``)."""
    end = window_end(at, selector.offset)
    if selector.window is not None:
        until = at - timedelta(seconds=selector.offset)
        # predict_linear's points come from the minute buckets (docs/rules.md, predict_linear).
        if not points and until - timedelta(seconds=selector.window) >= horizons.fine:
            return _sliding(selector, until)
        start = end - timedelta(minutes=minutes_of(selector.window))
        segments = horizons.segments(start, end, selector.window)
        rows = window_figures(
            **_series_of(selector), segments=segments, counters_since=end, counter=_counts(selector)
        )
        if points:
            found = window_points(**_series_of(selector), segments=segments)
            for row in rows:
                row.points = found.get(tuple(sorted(row.labels.items())), [])
    elif selector_kind(selector.name) == COUNTER:
        rows = counter_totals(**_series_of(selector), after=horizons.after(end), end=end)
    else:
        start = end - timedelta(seconds=LOOKBACK)
        segments = horizons.segments(start, end, LOOKBACK)
        rows = window_figures(
            **_series_of(selector), segments=segments, counters_since=None, counter=False
        )
    return [row for row in rows if _matches(row.labels, selector.matchers)]


def _series_of(selector: Selector) -> dict[str, Any]:
    """The series a selector names, as metrics_app's reads take them (exact values in SQL).

    Every matcher is checked again on the rows that come back (``_matches``): the storage app
    pushes down only what SQL can answer exactly.
    """
    exact = [(m.label, m.value) for m in selector.matchers if m.op == "="]
    return {"name": selector.name, "exact": exact}


def _counts(selector: Selector) -> bool:
    return selector_kind(selector.name) == COUNTER


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


def _sliding(selector: Selector, until: datetime) -> list[SeriesData]:
    """A range selector's window ``(until - window, until]`` over 10-second buckets."""
    after = until - timedelta(seconds=selector.window or 0)
    counter = _counts(selector)
    folds = fine_window_figures(
        **_series_of(selector), after=after, until=until, keep_counters=counter
    )
    start, end = after.timestamp(), until.timestamp()
    return [
        SeriesData(
            labels=fold.labels,
            count=fold.count,
            total=fold.total,
            low=fold.low,
            high=fold.high,
            last=fold.last,
            increase=extrapolated_increase(fold, start=start, end=end) if counter else None,
        )
        for fold in folds
        if _matches(fold.labels, selector.matchers)
    ]


def extrapolated_increase(fold: FineFold, *, start: float, end: float) -> float:
    """A counter's increase over ``(start, end]`` from its 10-second buckets, as PromQL's
    ``extrapolatedRate`` computes it from samples.

    The samples are the counter's cumulative value at each 10-second boundary inside the window
    and at ``end`` (pushed increments make both exact). The increase between the first and the
    last sample is extrapolated to the window's start when the gap is under 1.1 average sample
    intervals (else by half an interval), as Prometheus does. A series created inside the window
    started at 0 then: its increments are the exact answer.
    """
    if fold.points == 0:
        return 0.0
    if fold.created > start:
        return fold.total
    first = (math.floor(start / FINE) + 1) * FINE  # the first boundary after start
    if first >= end:
        return fold.total
    straddling = fold.first_start < first  # the earliest bucket read began before the window
    delta = fold.total - (fold.first_sum if straddling else 0.0)
    sampled = end - first
    samples = math.floor(sampled / FINE) + 1 + (0 if sampled % FINE == 0 else 1)
    average = sampled / (samples - 1)
    to_start = first - start
    if to_start >= 1.1 * average:
        to_start = average / 2
    return delta * (sampled + to_start) / sampled
