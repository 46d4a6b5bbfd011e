"""Validation of pushed samples and their aggregation in memory into series and minute writes.

A request is validated completely before anything is written: every bad sample is reported with
its index, and one bad sample rejects the whole request. Valid samples are then folded into one
write per series and one per (series, minute), so a batch costs a constant number of queries.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any, NamedTuple

from django.conf import settings

from metrics_app.catalogue import COUNTER, GAUGE, HISTOGRAM, SUMMARY, MetricSpec, get_metric
from monitoring_site.api.params import ParameterError, parse_datetime
from monitoring_site.text import unstorable_text

SAMPLE_KEYS = frozenset({"metric", "labels", "value", "observations", "timestamp"})
# Series.labels_key holds 2,000 characters; a histogram's bucket series add le="...".
MAX_LABELS_KEY = 1950


class SampleError(ValueError):
    """One sample's problem, naming the field."""


class Sample(NamedTuple):
    """A validated sample: its family, full label set, values (one, or observations) and time.

    (A named tuple: immutable like a frozen dataclass, at a third of its cost to build, which a
    batch pays for every sample.)
    """

    spec: MetricSpec
    labels: dict[str, str]
    values: tuple[float, ...]
    at: datetime


@dataclass(slots=True)
class SeriesWrite:
    """The net effect of a batch on one series: increment (counter) or last value (gauge)."""

    name: str
    family: str
    labels: dict[str, str]
    labels_key: str
    kind: str
    value: float
    value_at: datetime


@dataclass(slots=True)
class MinuteWrite:
    """The samples of a batch that fall into one series' minute."""

    count: int
    sum: float
    min: float
    max: float
    last: float
    last_at: datetime


@dataclass
class Batch:
    series: dict[tuple[str, str], SeriesWrite] = field(default_factory=dict)
    # By (series name, labels key, start of the minute in epoch seconds): integers, because a
    # batch computes and hashes a start for every sample.
    minutes: dict[tuple[str, str, int], MinuteWrite] = field(default_factory=dict)
    # The same samples by 10 seconds (metrics_app.models.FineBucket): sliding rule windows.
    fine: dict[tuple[str, str, int], MinuteWrite] = field(default_factory=dict)
    # Series whose count decides a family's number of label sets (x, or x_count).
    primary: dict[tuple[str, str], str] = field(default_factory=dict)
    samples: int = 0
    # The pushing token's service: new series count against its share ("" for other pushers).
    service: str = ""
    _keys: dict[tuple[tuple[str, str], ...], str] = field(default_factory=dict)

    def key_of(self, labels: Mapping[str, str]) -> str:
        """``labels_key(labels)``, remembered: a batch repeats few label sets many times."""
        items = tuple(labels.items())
        key = self._keys.get(items)
        if key is None:
            key = self._keys[items] = labels_key(labels)
        return key


def escape_label_value(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def labels_key(labels: Mapping[str, str]) -> str:
    """The canonical label set: exposition syntax, names sorted, ``le`` last (bucket order)."""
    names = sorted(name for name in labels if name != "le")
    if "le" in labels:
        names.append("le")
    return ",".join(f'{name}="{escape_label_value(labels[name])}"' for name in names)


def format_bound(bound: float) -> str:
    """A histogram ``le`` value as stored and exposed: ``"100"``, ``"2.5"``, ``"+Inf"``."""
    if math.isinf(bound):
        return "+Inf"
    return str(int(bound)) if bound.is_integer() else repr(bound)


def parse_time(raw: Any) -> datetime:
    """RFC 3339 text with an offset, or epoch seconds, as an aware UTC datetime."""
    try:
        return parse_datetime(raw)
    except ParameterError as exc:
        message = str(exc)
        raise SampleError(f"timestamp: {message[:1].lower()}{message[1:]}") from None


@dataclass(frozen=True)
class Limits:
    """The settings a batch is validated against, read once per request."""

    now: datetime
    max_age: int
    max_future: int
    label_length: int

    @classmethod
    def current(cls, now: datetime) -> Limits:
        return cls(
            now=now,
            max_age=settings.METRICS_MAX_SAMPLE_AGE_SECONDS,
            max_future=settings.METRICS_MAX_SAMPLE_FUTURE_SECONDS,
            label_length=settings.METRICS_LABEL_VALUE_MAX_LENGTH,
        )

    @cached_property
    def oldest(self) -> datetime:
        return self.now - timedelta(seconds=self.max_age)

    @cached_property
    def newest(self) -> datetime:
        return self.now + timedelta(seconds=self.max_future)


def parse_timestamp(raw: Any, now: datetime, limits: Limits | None = None) -> datetime:
    """A sample's time (default ``now``), within the accepted lateness and lead."""
    if raw is None:
        return now
    limits = limits or Limits.current(now)
    at = parse_time(raw)
    if at < limits.oldest:
        raise SampleError(f"timestamp: older than {limits.max_age} seconds")
    if at > limits.newest:
        raise SampleError(f"timestamp: more than {limits.max_future} seconds ahead")
    return at


def _number(raw: Any, where: str) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise SampleError(f"{where}: expected a number")
    value = float(raw)
    if not math.isfinite(value):
        raise SampleError(f"{where}: NaN and infinity are not accepted")
    return value


def _labels(
    raw: Any, spec: MetricSpec, service: str | None, multi_service: bool, limit: int
) -> dict:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise SampleError("labels: expected an object of label names to text values")
    for name, value in raw.items():
        if name not in spec.labels:
            allowed = ", ".join(spec.labels) or "none"
            raise SampleError(f"labels.{name}: not allowed for {spec.name} (allowed: {allowed})")
        if not isinstance(value, str):
            raise SampleError(f"labels.{name}: expected text")
        if not value:
            raise SampleError(f"labels.{name}: must not be empty")
        problem = unstorable_text(value)
        if problem:
            raise SampleError(f"labels.{name}: {problem}")
        if len(value) > limit:
            raise SampleError(f"labels.{name}: longer than {limit} characters")
    labels = dict(raw)
    if service is not None and "service" in spec.labels:
        given = labels.setdefault("service", service)
        if given != service and not multi_service:
            raise SampleError(
                f"labels.service: this token pushes for {service!r} only, not {given!r}"
            )
    if _key_too_long(labels):
        raise SampleError(f"labels: longer than {MAX_LABELS_KEY} characters together")
    return labels


def _key_too_long(labels: Mapping[str, str]) -> bool:
    # Escaping at most doubles a value, so the exact key is built only for very long label sets.
    rough = sum(len(name) + len(value) + 4 for name, value in labels.items())
    return 2 * rough > MAX_LABELS_KEY and len(labels_key(labels)) > MAX_LABELS_KEY


def _values(raw: Mapping[str, Any], spec: MetricSpec) -> tuple[float, ...]:
    observations = raw.get("observations")
    if observations is not None:
        if spec.type not in (HISTOGRAM, SUMMARY):
            raise SampleError(f"observations: only for histograms and summaries ({spec.type})")
        if "value" in raw:
            raise SampleError("value: give value or observations, not both")
        if not isinstance(observations, list) or not observations:
            raise SampleError("observations: expected a non-empty list of numbers")
        return tuple(_number(item, f"observations[{i}]") for i, item in enumerate(observations))
    if "value" not in raw:
        raise SampleError("value: required")
    value = _number(raw["value"], "value")
    if spec.type == COUNTER and value < 0:
        raise SampleError("value: a counter increment must be >= 0")
    return (value,)


def parse_sample(
    raw: Any,
    *,
    now: datetime,
    service: str | None,
    multi_service: bool,
    limits: Limits | None = None,
    checked: dict[tuple[Any, ...], dict[str, str]] | None = None,
) -> Sample:
    """One validated :class:`Sample`, or :class:`SampleError` naming the field at fault.

    ``checked`` remembers the label sets already validated for a batch (their samples share the
    validated dict, which nothing changes afterwards).
    """
    if not isinstance(raw, dict):
        raise SampleError("expected an object with metric, labels, value")
    if not SAMPLE_KEYS.issuperset(raw):
        raise SampleError(f"{sorted(set(raw) - SAMPLE_KEYS)[0]}: unknown field")
    name = raw.get("metric")
    if not isinstance(name, str) or not name:
        raise SampleError("metric: required (a metric name)")
    spec = get_metric(name)
    if spec is None:
        raise SampleError(f"metric: unknown metric {name[:200]!r}")
    limits = limits or Limits.current(now)
    raw_labels = raw.get("labels")
    labels = None
    seen: tuple[Any, ...] = ()
    if checked is not None and type(raw_labels) is dict:
        # A batch repeats few label sets many times: each is checked once per metric. Only
        # valid sets are remembered; a list or object among the values cannot be a key, and is
        # refused by the check below like any value that is not text.
        seen = (name, *raw_labels.items())
        try:
            labels = checked.get(seen)
        except TypeError:
            seen = ()
    if labels is None:
        labels = _labels(raw_labels, spec, service, multi_service, limits.label_length)
        if seen and checked is not None:
            checked[seen] = labels
    values = _values(raw, spec)
    return Sample(spec, labels, values, parse_timestamp(raw.get("timestamp"), now, limits))


def parse_samples(
    raw: Any, *, now: datetime, service: str | None, multi_service: bool
) -> tuple[list[Sample], dict[str, str]]:
    """Validated samples and ``{index: reason}`` for the bad ones."""
    samples: list[Sample] = []
    errors: dict[str, str] = {}
    limits = Limits.current(now)
    checked: dict[tuple[Any, ...], dict[str, str]] = {}
    for index, item in enumerate(raw):
        try:
            samples.append(
                parse_sample(
                    item,
                    now=now,
                    service=service,
                    multi_service=multi_service,
                    limits=limits,
                    checked=checked,
                )
            )
        except SampleError as exc:
            errors[str(index)] = str(exc)
    return samples, errors


FINE_SECONDS = 10  # the width of a 10-second bucket (metrics_app.models.FineBucket)


def _add(
    batch: Batch,
    name: str,
    spec: MetricSpec,
    labels: dict[str, str],
    kind: str,
    value: float,
    at: datetime,
    *,
    minute: bool = True,
) -> tuple[str, str]:
    key = batch.key_of(labels)
    series = batch.series.get((name, key))
    if series is None:
        batch.series[(name, key)] = SeriesWrite(name, spec.name, labels, key, kind, value, at)
    elif kind == COUNTER:
        series.value += value
        if at > series.value_at:
            series.value_at = at
    elif at >= series.value_at:
        series.value, series.value_at = value, at
    if minute:
        # (Exact: a sample time has whole microseconds, coarser than a double's step near now.)
        seconds = at.timestamp()
        _add_to(batch.minutes, (name, key, int(seconds // 60) * 60), value, at)
        _add_to(batch.fine, (name, key, int(seconds // FINE_SECONDS) * FINE_SECONDS), value, at)
    return name, key


def _add_to(
    writes: dict[tuple[str, str, int], MinuteWrite],
    key: tuple[str, str, int],
    value: float,
    at: datetime,
) -> None:
    write = writes.get(key)
    if write is None:
        writes[key] = MinuteWrite(1, value, value, value, value, at)
        return
    write.count += 1
    write.sum += value
    if value < write.min:
        write.min = value
    if value > write.max:
        write.max = value
    if at >= write.last_at:
        write.last, write.last_at = value, at


def _add_observation(batch: Batch, sample: Sample, value: float) -> None:
    spec, labels, at = sample.spec, sample.labels, sample.at
    if spec.type == HISTOGRAM:
        # Every bucket series exists from the first observation, so /metrics always shows a
        # complete histogram; a minute row is written only where the bucket count moved.
        for bound in (*spec.buckets, math.inf):
            hit = value <= bound
            bucket_labels = {**labels, "le": format_bound(bound)}
            _add(batch, f"{spec.name}_bucket", spec, bucket_labels, COUNTER, float(hit), at,
                 minute=hit)  # fmt: skip
    _add(batch, f"{spec.name}_sum", spec, labels, COUNTER, value, at)
    key = _add(batch, f"{spec.name}_count", spec, labels, COUNTER, 1.0, at)
    batch.primary[key] = spec.name


def aggregate(samples: Iterable[Sample], *, service: str = "") -> Batch:
    """Fold validated samples into one write per series and per (series, minute)."""
    batch = Batch(service=service)
    for sample in samples:
        add_sample(batch, sample)
    return batch


def add_sample(batch: Batch, sample: Sample) -> None:
    """Fold one validated sample into ``batch``."""
    batch.samples += 1
    spec = sample.spec
    if spec.type in (HISTOGRAM, SUMMARY):
        for value in sample.values:
            _add_observation(batch, sample, value)
        return
    kind = COUNTER if spec.type == COUNTER else GAUGE
    key = _add(batch, spec.name, spec, sample.labels, kind, sample.values[0], sample.at)
    batch.primary[key] = spec.name


def add_histogram_counts(
    batch: Batch,
    spec: MetricSpec,
    labels: dict[str, str],
    at: datetime,
    *,
    counts: Sequence[int],
    total: float,
) -> None:
    """Fold observations already counted per bucket into ``batch``, as if each had been pushed.

    ``counts`` has one entry per bound of ``spec.buckets`` and a last one above them all;
    ``total`` is the sum of the observations. The history backfill writes weeks of requests this
    way, at the cost of their buckets rather than of every observation.
    """
    if spec.type != HISTOGRAM or len(counts) != len(spec.buckets) + 1:
        raise ValueError(f"{spec.name}: expected {len(spec.buckets) + 1} bucket counts")
    observed = sum(counts)
    if observed <= 0:
        return
    batch.samples += observed
    cumulative = 0
    for bound, count in zip((*spec.buckets, math.inf), counts, strict=True):
        cumulative += count
        bucket_labels = {**labels, "le": format_bound(bound)}
        _add(batch, f"{spec.name}_bucket", spec, bucket_labels, COUNTER, float(cumulative), at,
             minute=cumulative > 0)  # fmt: skip
    _add(batch, f"{spec.name}_sum", spec, labels, COUNTER, total, at)
    key = _add(batch, f"{spec.name}_count", spec, labels, COUNTER, float(observed), at)
    batch.primary[key] = spec.name


def overflowing(batch: Batch) -> set[tuple[str, str]]:
    """Series whose total or a minute's sum within the batch alone is not finite."""
    over = {key for key, write in batch.series.items() if not math.isfinite(write.value)}
    over |= {(n, k) for (n, k, _), write in batch.minutes.items() if not math.isfinite(write.sum)}
    return over


def series_of(sample: Sample) -> list[tuple[str, str]]:
    """The (series name, labels key) a sample adds to, but for histogram buckets."""
    key = labels_key(sample.labels)
    if sample.spec.type in (HISTOGRAM, SUMMARY):
        return [(f"{sample.spec.name}_sum", key), (f"{sample.spec.name}_count", key)]
    return [(sample.spec.name, key)]


__all__ = [
    "GAUGE",
    "Batch",
    "MinuteWrite",
    "Sample",
    "SampleError",
    "SeriesWrite",
    "add_histogram_counts",
    "add_sample",
    "aggregate",
    "format_bound",
    "labels_key",
    "overflowing",
    "parse_samples",
    "series_of",
]
