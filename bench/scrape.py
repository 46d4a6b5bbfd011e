"""Benchmark of GET /metrics with 10,000 stored series (issue 3).

10 metric families of 1,000 label sets each (counters and gauges, two labels) are stored in
PostgreSQL; /metrics is requested through Django's full request path, cold (shared cache and
catalogue emptied before each request) and warm (the cluster part in the cache). The reference,
in the same run, is ``prometheus_client.generate_latest`` over 10,000 in-memory series of the
same shape (the same 10 families, label names and label values). Targets: cold at most 3x, warm
at most 1x the reference.

Run: .venv/bin/python bench/scrape.py   (PostgreSQL database mon_bench_metrics, recreated, and
Redis db 1 as the cache; BENCH_DATABASE_URL and BENCH_REDIS_URL override). Exits 1 on a miss.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
DATABASE_URL = os.environ.get(
    "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/mon_bench_metrics"
)
os.environ["DATABASE_URL"] = DATABASE_URL
os.environ["REDIS_URL"] = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/1")
os.environ["CACHE_KEY_PREFIX"] = f"bench-scrape-{os.getpid()}"
os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "monitoring_site.settings")
os.environ.setdefault("TESTING", "true")
os.environ.setdefault("LOG_LEVEL", "ERROR")

import psycopg  # noqa: E402

RUNS = 7
PER_FAMILY = 1000
# (family, kind, second label or None: then the service label varies)
FAMILIES = [
    ("errors_total", "counter", "type"),
    ("queue_size", "gauge", "queue"),
    ("refunds_processed_total", "counter", "reason"),
    ("revenue_total_cents", "counter", "type"),
    ("cache_hit_rate", "gauge", "cache"),
    ("tickets_sold_total", "counter", None),
    ("tickets_listed_total", "counter", None),
    ("active_users", "gauge", None),
    ("marketplace_active_listings", "gauge", None),
    ("payment_success_total", "counter", None),
]


def recreate_database() -> None:
    name = DATABASE_URL.rsplit("/", 1)[1]
    admin_url = DATABASE_URL.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def label_sets(second: str | None) -> list[dict[str, str]]:
    if second is None:
        return [{"service": f"service-{i:04d}"} for i in range(PER_FAMILY)]
    return [{"service": "payment", second: f"value-{i:04d}"} for i in range(PER_FAMILY)]


def load_series() -> None:
    from metrics_app.catalogue import get_metric
    from metrics_app.ingest import Sample
    from metrics_app.services import store_samples

    now = datetime.now(UTC)
    for family, _kind, second in FAMILIES:
        spec = get_metric(family)
        assert spec is not None
        samples = [Sample(spec, labels, (123.5,), now) for labels in label_sets(second)]
        store_samples(samples=samples, now=now)


def reference_seconds() -> float:
    from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest

    registry = CollectorRegistry()
    for family, kind, second in FAMILIES:
        names = ["service"] + ([second] if second else [])
        if kind == "counter":
            counter = Counter(family.removesuffix("_total"), "help", names, registry=registry)
            for labels in label_sets(second):
                counter.labels(**labels).inc(123.5)
        else:
            gauge = Gauge(family, "help", names, registry=registry)
            for labels in label_sets(second):
                gauge.labels(**labels).set(123.5)
    generate_latest(registry)
    timings = []
    for _ in range(RUNS):
        started = time.perf_counter()
        generate_latest(registry)
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


def scrape_seconds(cold: bool) -> float:
    from django.test import Client

    from metrics_app import catalogue, exposition

    client = Client()
    timings = []
    client.get("/metrics", REMOTE_ADDR="127.0.0.1")
    for _ in range(RUNS):
        if cold:
            exposition.invalidate()
            catalogue.clear_cache()
        started = time.perf_counter()
        response = client.get("/metrics", REMOTE_ADDR="127.0.0.1")
        timings.append(time.perf_counter() - started)
        assert response.status_code == 200
    lines = response.content.count(b"\n")
    assert lines > 10_000, lines
    return statistics.median(timings)


def main() -> int:
    recreate_database()
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    load_series()
    reference = reference_seconds()
    cold = scrape_seconds(cold=True)
    warm = scrape_seconds(cold=False)
    print(f"reference: prometheus_client.generate_latest, 10,000 series: {reference * 1000:.1f} ms")
    print(
        f"/metrics cold (cache and catalogue empty): {cold * 1000:.1f} ms "
        f"= {cold / reference:.2f}x (target <= 3x)"
    )
    print(
        f"/metrics warm (cluster part cached): {warm * 1000:.1f} ms "
        f"= {warm / reference:.2f}x (target <= 1x)"
    )
    met = cold <= 3 * reference and warm <= reference
    print("targets:", "met" if met else "MISSED")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
