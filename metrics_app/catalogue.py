"""The metric catalogue: the platform's metric names, types, units and allowed labels.

This module is data. Every metric the platform may push is listed here, plus the metrics an admin
registers as :class:`~metrics_app.models.MetricDefinition` rows. Label names are bounded sets
(never ids, emails or free text); platform metrics carry ``service``.

A histogram ``x`` is stored as the series ``x_bucket{le=...}``, ``x_sum`` and ``x_count``; a
summary as ``x_sum`` and ``x_count``. :func:`resolve_series_name` maps a stored series name back
to its family.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db import DatabaseError

from metrics_app.models import MetricDefinition

if TYPE_CHECKING:  # apps.py loads this module before the models are ready
    from metrics_app.models import MetricDefinition

COUNTER = "counter"
GAUGE = "gauge"
HISTOGRAM = "histogram"
SUMMARY = "summary"
TYPES = (COUNTER, GAUGE, HISTOGRAM, SUMMARY)

# Prometheus data model: metric names [a-zA-Z_:][a-zA-Z0-9_:]*, label names [a-zA-Z_][a-zA-Z0-9_]*
# (names starting with "__" are reserved). Colons are for recording rules, so not accepted here.
METRIC_NAME_RE = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*\Z")
LABEL_NAME_RE = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*\Z")
RESERVED_LABELS = frozenset({"le", "quantile"})
PARTS = {HISTOGRAM: ("bucket", "sum", "count"), SUMMARY: ("sum", "count")}


@dataclass(frozen=True)
class MetricSpec:
    """One metric family: what it measures and which labels it may carry."""

    name: str
    type: str
    help: str
    unit: str
    labels: tuple[str, ...]
    buckets: tuple[float, ...] = ()

    def series_names(self) -> tuple[str, ...]:
        """The stored series names of this family (``x`` or ``x_bucket``, ``x_sum``, ...)."""
        parts = PARTS.get(self.type)
        if not parts:
            return (self.name,)
        return tuple(f"{self.name}_{part}" for part in parts)


# Latency boundaries in milliseconds (the platform's unit), without +Inf.
HTTP_MS = (5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0, 10000.0)
DB_MS = (1.0, 2.5, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0)
PAYMENT_MS = (50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0, 10000.0, 30000.0)
SOLANA_MS = (100.0, 250.0, 500.0, 1000.0, 2000.0, 5000.0, 10000.0, 30000.0, 60000.0)

S = "service"

CATALOGUE: tuple[MetricSpec, ...] = (
    # business
    MetricSpec("tickets_sold_total", COUNTER, "Tickets sold.", "tickets", (S,)),
    MetricSpec("tickets_listed_total", COUNTER, "Tickets listed for resale.", "tickets", (S,)),
    MetricSpec(
        "revenue_total_cents", COUNTER, "Revenue in cents, by revenue type.", "cents", (S, "type")
    ),
    MetricSpec(
        "refunds_processed_total",
        COUNTER,
        "Refunds processed, by reason.",
        "refunds",
        (S, "reason"),
    ),
    MetricSpec(
        "marketplace_active_listings", GAUGE, "Active marketplace listings.", "listings", (S,)
    ),
    # performance
    MetricSpec(
        "http_request_duration_ms",
        HISTOGRAM,
        "HTTP request duration in milliseconds.",
        "milliseconds",
        (S, "method", "route", "status_code"),
        HTTP_MS,
    ),
    MetricSpec(
        "db_query_duration_ms",
        HISTOGRAM,
        "Database query duration in milliseconds.",
        "milliseconds",
        (S, "operation", "table"),
        DB_MS,
    ),
    MetricSpec(
        "api_response_time_ms",
        SUMMARY,
        "API response time in milliseconds.",
        "milliseconds",
        (S, "method", "route"),
    ),
    # system
    MetricSpec("active_users", GAUGE, "Users active right now.", "users", (S,)),
    MetricSpec("queue_size", GAUGE, "Jobs waiting in a queue.", "jobs", (S, "queue")),
    MetricSpec("cache_hit_rate", GAUGE, "Cache hit ratio (0 to 1).", "ratio", (S, "cache")),
    MetricSpec("errors_total", COUNTER, "Errors, by type.", "errors", (S, "type")),
    # payment
    MetricSpec("payment_success_total", COUNTER, "Successful payments.", "payments", (S,)),
    MetricSpec("payment_failure_total", COUNTER, "Failed payments.", "payments", (S,)),
    MetricSpec(
        "payment_processing_duration_ms",
        HISTOGRAM,
        "Payment processing duration in milliseconds.",
        "milliseconds",
        (S,),
        PAYMENT_MS,
    ),
    # blockchain
    MetricSpec("nft_minted_total", COUNTER, "NFT tickets minted.", "nfts", (S,)),
    MetricSpec("nft_transferred_total", COUNTER, "NFT tickets transferred.", "nfts", (S,)),
    MetricSpec(
        "solana_transaction_time_ms",
        HISTOGRAM,
        "Solana transaction confirmation time in milliseconds, by status (success, failed).",
        "milliseconds",
        (S, "status"),
        SOLANA_MS,
    ),
    # host of the monitoring service itself (sampled every minute)
    MetricSpec(
        "system_cpu_usage_percent", GAUGE, "CPU usage of the monitor's host.", "percent", ("host",)
    ),
    MetricSpec(
        "system_memory_usage_percent",
        GAUGE,
        "Memory usage of the monitor's host.",
        "percent",
        ("host",),
    ),
    MetricSpec(
        "system_disk_usage_percent",
        GAUGE,
        "Disk usage of the monitor's data volume.",
        "percent",
        ("host", "mountpoint"),
    ),
)

_BUILTIN: dict[str, MetricSpec] = {spec.name: spec for spec in CATALOGUE}

# Admin-registered metrics are read from the database at most every few seconds per process;
# saving or deleting a MetricDefinition clears this process's copy at once (see apps.py).
_CACHE_SECONDS = 5.0
_lock = threading.Lock()
_cached: dict[str, MetricSpec] | None = None
_cached_at = 0.0


def clear_cache() -> None:
    """Forget the admin-registered metrics read so far (after a change, or between tests)."""
    global _cached
    with _lock:
        _cached = None


def _registered() -> dict[str, MetricSpec]:
    global _cached, _cached_at
    now = time.monotonic()
    with _lock:
        if _cached is not None and now - _cached_at < _CACHE_SECONDS:
            return _cached

    specs = {}
    try:
        rows = list(MetricDefinition.objects.filter(enabled=True))
    except DatabaseError:
        # Before the first migration (or with the database down) only the catalogue is known;
        # nothing is cached, so the registered metrics appear as soon as they can be read.
        return {}
    for row in rows:
        if row.name in _BUILTIN:
            continue
        specs[row.name] = spec_from_definition(row)
    with _lock:
        _cached, _cached_at = specs, now
    return specs


def spec_from_definition(row: MetricDefinition) -> MetricSpec:
    """The :class:`MetricSpec` of an admin-registered ``MetricDefinition`` row."""
    buckets = tuple(sorted(float(bound) for bound in (getattr(row, "buckets", None) or [])))
    return MetricSpec(
        name=row.name,
        type=row.type,
        help=row.help,
        unit=row.unit or "",
        labels=tuple(row.label_names or ()),
        buckets=buckets,
    )


def get_metric(name: str) -> MetricSpec | None:
    """The catalogue entry or enabled admin-registered metric called ``name``, if any."""
    spec = _BUILTIN.get(name)
    if spec is not None:
        return spec
    return _registered().get(name)


def builtin_metrics() -> list[MetricSpec]:
    return list(CATALOGUE)


def all_metrics() -> list[MetricSpec]:
    """The catalogue followed by the enabled admin-registered metrics, each sorted by name."""
    registered = sorted(_registered().values(), key=lambda spec: spec.name)
    return list(CATALOGUE) + registered


def resolve_series_name(series_name: str) -> tuple[MetricSpec, str] | None:
    """Map a stored series name to its family and part.

    ``"x"`` -> ``(spec, "")`` for any family ``x`` (a histogram's bare name too: the caller checks
    ``spec.type``), ``"x_bucket"`` -> ``(spec, "bucket")``, ``"x_sum"`` -> ``(spec, "sum")`` and
    ``"x_count"`` -> ``(spec, "count")`` for histograms and summaries. An exact family name wins.
    """
    spec = get_metric(series_name)
    if spec is not None:
        return spec, ""
    base, _, part = series_name.rpartition("_")
    if not base or part not in ("bucket", "sum", "count"):
        return None
    spec = get_metric(base)
    if spec is None or part not in PARTS.get(spec.type, ()):
        return None
    return spec, part


def name_problem(name: str) -> str | None:
    """Why ``name`` cannot be a new metric (Prometheus rules, clashes), or None when it can."""
    if not METRIC_NAME_RE.match(name):
        return "Use letters, digits and underscores, not starting with a digit."
    if name.startswith("__"):
        return "Names starting with two underscores are reserved."
    if name in _BUILTIN:
        return "This name belongs to the built-in catalogue."
    for spec in CATALOGUE:
        if name in spec.series_names() and name != spec.name:
            return f"This name is a series of the built-in metric {spec.name}."
    return None


def label_problem(label: str) -> str | None:
    """Why ``label`` cannot be a label name of a metric, or None when it can."""
    if not LABEL_NAME_RE.match(label):
        return f"{label!r}: use letters, digits and underscores, not starting with a digit."
    if label.startswith("__"):
        return f"{label!r}: names starting with two underscores are reserved."
    if label in RESERVED_LABELS:
        return f"{label!r} is reserved by the exposition format."
    return None
