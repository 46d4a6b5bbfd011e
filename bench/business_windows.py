"""Benchmark of /api/business-metrics windows on PostgreSQL (issue #11, item 2).

60 business series (tickets, revenue and refunds, 20 label sets each) with a sample in every
minute of the last 48 hours (172,800 minute buckets), rolled up by the aggregation job as it runs
in production. A 24-hour and a 7-day window are read by ``business_window``: whole final hours
from the hourly rollups, the rest from the minute buckets. The reference, measured in the same
run, is the exact figure summed from the minute buckets alone (what a window would cost without
rollups). Both must give the same figures; target: the 24-hour window in at most half the
reference's time.

Run: .venv/bin/python bench/business_windows.py   (PostgreSQL database mon_bench_h5_business,
recreated; set BENCH_DATABASE_URL to use another). Exits 1 when the target is missed.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import TypeVar

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
DATABASE_URL = os.environ.get(
    "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/mon_bench_h5_business"
)
os.environ["DATABASE_URL"] = DATABASE_URL
os.environ.pop("REDIS_URL", None)
os.environ.setdefault("VAR_DIR", tempfile.mkdtemp(prefix="bench-business-"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "monitoring_site.settings")
os.environ.setdefault("TESTING", "true")
os.environ.setdefault("LOG_LEVEL", "WARNING")

NAMES = ("tickets_sold_total", "revenue_total_cents", "refunds_processed_total")
LABEL_SETS = 20
HOURS = 48
RUNS = 15
TARGET_RATIO = 0.5
NOW = datetime(2026, 11, 30, 12, 0, 30, tzinfo=UTC)


T = TypeVar("T")


def recreate_database() -> None:
    name = DATABASE_URL.rsplit("/", 1)[1]
    admin_url = DATABASE_URL.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def populate() -> None:
    from django.db import connection

    from metrics_app.aggregation import aggregate_rollups
    from metrics_app.models import Series

    start = NOW.replace(second=0, microsecond=0) - timedelta(hours=HOURS)
    series = Series.objects.bulk_create(
        Series(
            name=name, family=name, labels={"service": f"s{n}"}, labels_key=f'service="s{n}"',
            kind="counter", value=0, created_at=start, updated_at=NOW,
        )
        for name in NAMES
        for n in range(LABEL_SETS)
    )  # fmt: skip
    minutes = HOURS * 60 + 1
    with (
        connection.cursor() as cursor,
        cursor.copy(
            "COPY metrics_app_bucket (series_id, start, count, sum, min, max, last, last_at) "
            "FROM STDIN"
        ) as copy,
    ):
        for row in series:
            for minute in range(minutes):
                at = start + timedelta(minutes=minute)
                value = float(1 + (row.pk * 7 + minute) % 13)
                copy.write_row((row.pk, at, 1, value, value, value, value, at))
    aggregate_rollups(now=NOW)


def bucket_reference(window: timedelta) -> dict[str, float]:
    """The exact figure from the minute buckets alone (the reference)."""
    from django.db.models import Sum

    from metrics_app.models import Bucket, Series
    from metrics_app.selectors import Span

    span = Span.of(window, NOW)
    ids = dict(Series.objects.filter(name__in=NAMES).values_list("pk", "name"))
    rows = (
        Bucket.objects.filter(series_id__in=list(ids), start__gte=span.first, start__lt=span.end)
        .order_by()
        .values("series_id")
        .annotate(total=Sum("sum"))
    )
    totals: dict[str, float] = {}
    for row in rows:
        totals[ids[row["series_id"]]] = totals.get(ids[row["series_id"]], 0.0) + row["total"]
    return totals


def timed(call: Callable[[], T]) -> tuple[float, T]:
    samples: list[float] = []
    for _ in range(RUNS):
        started = time.perf_counter()
        result = call()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples), result


def main() -> int:
    recreate_database()
    import django

    django.setup()
    from django.core.management import call_command

    from metrics_app.selectors import BUSINESS_COUNTERS, WINDOWS, business_window

    call_command("migrate", verbosity=0)
    populate()
    ok = True
    for name in ("24h", "7d"):
        window = WINDOWS[name]
        ours, figures = timed(partial(business_window, window, now=NOW))
        ref, sums = timed(partial(bucket_reference, window))
        expected = {field: sums.get(series, 0) for field, series in BUSINESS_COUNTERS.items()}
        same = all(figures[field] == value for field, value in expected.items())
        ratio = ours / ref
        print(
            f"window {name}: {ours * 1000:.1f} ms (rollups + buckets), "
            f"reference {ref * 1000:.1f} ms (buckets only), ratio {ratio:.2f}, "
            f"figures {'equal' if same else 'DIFFER'}"
        )
        ok = ok and same
        if name == "24h" and ratio > TARGET_RATIO:
            print(f"MISS: the 24h window should take at most {TARGET_RATIO} of the reference")
            ok = False
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
