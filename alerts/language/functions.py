"""The arithmetic of the language: range functions, aggregations, histogram_quantile, operators.

Values follow PromQL (IEEE 754): ``x / 0`` is ``+Inf``/``-Inf``, ``0 / 0`` is ``NaN``, and NaN
propagates through arithmetic.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from alerts.language.tree import Sample
from metrics_app.selectors import SeriesData

Labels = dict[str, str]


def divide(a: float, b: float) -> float:
    if b == 0.0:
        if a == 0.0 or math.isnan(a):
            return math.nan
        sign = math.copysign(1.0, a) * math.copysign(1.0, b)
        return math.copysign(math.inf, sign)
    return a / b


OPERATORS: dict[str, Callable[[float, float], float]] = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": divide,
}


def apply(op: str, a: float, b: float) -> float:
    try:
        return OPERATORS[op](a, b)
    except OverflowError:  # float ops give inf rather than raise, but be sure
        return math.inf


def range_function(name: str, row: SeriesData, window: int) -> float:
    increase = row.total if row.increase is None else row.increase
    if name == "increase":
        return increase
    if name == "rate":
        return increase / window
    if name == "count_over_time":
        return row.count
    if name == "sum_over_time":
        return row.total
    if name == "avg_over_time":
        return divide(row.total, row.count)
    if name == "min_over_time":
        return row.low
    if name == "max_over_time":
        return row.high
    if name == "last_over_time":
        return row.last
    raise KeyError(name)


def clamp(value: float, bound: float, *, low: bool) -> float:
    if math.isnan(value) or math.isnan(bound):
        return math.nan
    return max(value, bound) if low else min(value, bound)


def group_labels(labels: Labels, grouping: tuple[str, ...], without: bool) -> Labels:
    if without:
        return {k: v for k, v in labels.items() if k not in grouping}
    return {k: labels[k] for k in grouping if labels.get(k, "") != ""}


def key_of(labels: Labels) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(labels.items()))


def aggregate(
    op: str, samples: list[Sample], grouping: tuple[str, ...], without: bool
) -> list[Sample]:
    groups: dict[tuple, tuple[Labels, list[float]]] = {}
    for sample in samples:
        labels = group_labels(sample.labels, grouping, without)
        groups.setdefault(key_of(labels), (labels, []))[1].append(sample.value)
    return [Sample(labels, _fold(op, values)) for labels, values in groups.values()]


def _fold(op: str, values: list[float]) -> float:
    if op == "sum":
        return math.fsum(values) if all(math.isfinite(v) for v in values) else sum(values)
    if op == "count":
        return float(len(values))
    if op == "avg":
        return _fold("sum", values) / len(values)
    # min and max ignore NaN unless every value is NaN, as in Prometheus
    numbers = [v for v in values if not math.isnan(v)]
    if not numbers:
        return math.nan
    return min(numbers) if op == "min" else max(numbers)


def histogram_quantile(q: float, samples: list[Sample]) -> list[Sample]:
    """Per label set (without ``le``): the q-quantile, interpolated as Prometheus does."""
    groups: dict[tuple, tuple[Labels, list[tuple[float, float]]]] = {}
    for sample in samples:
        bound = _upper_bound(sample.labels.get("le"))
        if bound is None:
            continue
        labels = {k: v for k, v in sample.labels.items() if k != "le"}
        groups.setdefault(key_of(labels), (labels, []))[1].append((bound, sample.value))
    return [Sample(labels, bucket_quantile(q, buckets)) for labels, buckets in groups.values()]


def _upper_bound(raw: str | None) -> float | None:
    if raw is None:
        return None
    try:
        return float(raw)
    except ValueError:
        return None


def bucket_quantile(q: float, buckets: list[tuple[float, float]]) -> float:
    """Prometheus' ``bucketQuantile``: linear interpolation inside the bucket holding the rank."""
    if math.isnan(q):
        return math.nan
    if q < 0:
        return -math.inf
    if q > 1:
        return math.inf
    buckets = _coalesce(sorted(buckets))
    if not buckets or not math.isinf(buckets[-1][0]):
        return math.nan
    buckets = _monotonic(buckets)
    if len(buckets) < 2:
        return math.nan
    observations = buckets[-1][1]
    if observations == 0 or math.isnan(observations):
        return math.nan
    rank = q * observations
    index = next(
        (i for i, (_, count) in enumerate(buckets[:-1]) if count >= rank), len(buckets) - 1
    )
    if index == len(buckets) - 1:
        return buckets[-2][0]
    if index == 0 and buckets[0][0] <= 0:
        return buckets[0][0]
    start, end, count = 0.0, buckets[index][0], buckets[index][1]
    if index > 0:
        start = buckets[index - 1][0]
        count -= buckets[index - 1][1]
        rank -= buckets[index - 1][1]
    return start + (end - start) * (rank / count)


def _coalesce(buckets: list[tuple[float, float]]) -> list[tuple[float, float]]:
    out: list[tuple[float, float]] = []
    for bound, count in buckets:
        if out and out[-1][0] == bound:
            out[-1] = (bound, out[-1][1] + count)
        else:
            out.append((bound, count))
    return out


def _monotonic(buckets: list[tuple[float, float]]) -> list[tuple[float, float]]:
    out, highest = [], -math.inf
    for bound, count in buckets:
        highest = max(highest, count)
        out.append((bound, highest))
    return out


def linear_fit(points: list[tuple[float, float]], *, at: float) -> tuple[float, float] | None:
    """The least-squares line through ``points`` (epoch seconds, value) as (its value at ``at``,
    its slope per second), as PromQL's ``predict_linear`` and ``deriv`` fit it; None with fewer
    than two points (Prometheus drops the series)."""
    if len(points) < 2:
        return None
    n = float(len(points))
    xs = [t - at for t, _ in points]
    ys = [v for _, v in points]
    sum_x, sum_y = math.fsum(xs), math.fsum(ys)
    cov_xy = math.fsum(x * y for x, y in zip(xs, ys, strict=True)) - sum_x * sum_y / n
    var_x = math.fsum(x * x for x in xs) - sum_x * sum_x / n
    if all(y == ys[0] for y in ys):
        slope = 0.0  # a constant series: exactly flat, whatever rounding says
    elif var_x == 0:
        return math.nan, math.nan
    else:
        slope = cov_xy / var_x
    return sum_y / n - slope * sum_x / n, slope
