"""GET /metrics: the catalogue, every stored series, and the service's own metrics.

The body has two parts. The *cluster* part (every catalogue metric with its stored series, and
the collectors fed from rows: job runs, evaluation cycles, notification outcomes) is rendered
from the database and cached in the configured cache for ``METRICS_CACHE_SECONDS``, so every
gunicorn worker and every web host serves the same values. The *process* part (django-prometheus
request and database metrics, process metrics) comes from prometheus_client, in multiprocess mode
when ``PROMETHEUS_MULTIPROC_DIR`` is set (gunicorn), so it covers every worker of this host.

Other apps add collectors fed from rows with :func:`register_collector`, called from their
``AppConfig.ready()``. A collector must define ``describe()`` returning ``[]`` so that
registering it does not query the database.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import defaultdict
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)

from metrics_app.catalogue import COUNTER, HISTOGRAM, SUMMARY, MetricSpec, all_metrics

logger = logging.getLogger(__name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
CACHE_KEY = "metrics_app:exposition:v1"

_lock = threading.Lock()
_rows_registry = CollectorRegistry(auto_describe=False)
_collectors: list[Any] = []
_process_registry: CollectorRegistry | None = None


def register_collector(collector: Any) -> None:
    """Add a prometheus_client collector (an object with ``collect()``) to /metrics; idempotent."""
    with _lock:
        if collector in _collectors:
            return
        _collectors.append(collector)
        _rows_registry.register(collector)


def registered_collectors() -> list[Any]:
    with _lock:
        return list(_collectors)


def exposed_name(spec: MetricSpec) -> str:
    """The family name in the exposition: counters must end in ``_total``, so one is appended."""
    if spec.type == COUNTER and not spec.name.endswith("_total"):
        return f"{spec.name}_total"
    return spec.name


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _fetch_series() -> dict[str, list[tuple[str, str, float]]]:
    by_family: dict[str, list[tuple[str, str, float]]] = defaultdict(list)
    with connection.cursor() as cursor:
        cursor.execute("SELECT family, name, labels_key, value FROM metrics_app_series")
        for family, name, key, value in cursor.fetchall():
            by_family[family].append((name, key, value))
    return by_family


_PART_RANK = {"bucket": 0, "sum": 1, "count": 2}


def _histogram_order(family: str, row: tuple[str, str, float]) -> tuple[str, int, float]:
    name, key, _value = row
    part = name[len(family) + 1 :]
    if part != "bucket":
        return key, _PART_RANK.get(part, 3), 0.0
    at = key.rfind('le="')
    base = key[:at].rstrip(",")
    try:
        bound = float(key[at + 4 : -1])
    except ValueError:
        bound = float("inf")
    return base, 0, bound


def _render_family(spec: MetricSpec, rows: list[tuple[str, str, float]], out: list[str]) -> None:
    name = exposed_name(spec)
    out.append(f"# HELP {name} {_escape_help(spec.help)}\n# TYPE {name} {spec.type}\n")
    if spec.type in (HISTOGRAM, SUMMARY):
        rows = sorted(rows, key=lambda row: _histogram_order(spec.name, row))
    else:
        rows = sorted(rows, key=lambda row: row[1])
    for series_name, key, value in rows:
        if spec.type == COUNTER:
            series_name = name
        if key:
            out.append(f"{series_name}{{{key}}} {value!r}\n")
        else:
            out.append(f"{series_name} {value!r}\n")


def render_series() -> str:
    """Every catalogue metric with HELP and TYPE, then its stored series' cumulative values."""
    by_family = _fetch_series()
    out: list[str] = []
    for spec in all_metrics():
        _render_family(spec, by_family.get(spec.name, []), out)
    return "".join(out)


def render_rows() -> str:
    """The collectors fed from rows (job runs, and what other apps registered)."""
    try:
        return generate_latest(_rows_registry).decode()
    except Exception:
        # One broken collector must not take the whole scrape down: render them one by one.
        logger.exception("a row collector failed; rendering the others")
    parts = []
    for collector in registered_collectors():
        registry = CollectorRegistry(auto_describe=False)
        registry.register(collector)
        try:
            parts.append(generate_latest(registry).decode())
        except Exception:
            logger.exception("row collector failed", extra={"collector": repr(collector)})
    return "".join(parts)


def cluster_part() -> bytes:
    """The database-fed part, from the shared cache when it is fresh enough."""
    seconds = settings.METRICS_CACHE_SECONDS
    if seconds > 0:
        cached = cache.get(CACHE_KEY)
        if cached is not None:
            return cached
    body = (render_series() + render_rows()).encode()
    if seconds > 0:
        cache.set(CACHE_KEY, body, timeout=seconds)
    return body


def invalidate() -> None:
    cache.delete(CACHE_KEY)


def _multiprocess_registry() -> CollectorRegistry:
    global _process_registry
    with _lock:
        if _process_registry is None:
            # Loaded only in multiprocess mode (gunicorn with PROMETHEUS_MULTIPROC_DIR).
            from prometheus_client import multiprocess

            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            ProcessCollector(registry=registry)
            PlatformCollector(registry=registry)
            _process_registry = registry
        return _process_registry


def process_part() -> bytes:
    """This host's own request, database and process metrics."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return generate_latest(_multiprocess_registry())
    return generate_latest(REGISTRY)


def render() -> bytes:
    return cluster_part() + process_part()
