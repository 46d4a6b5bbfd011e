"""Benchmark of the rule language's evaluator (issue 5).

1,000 expressions of mixed shapes sharing 100 distinct leaves, over 1,000 series with 24 hours
of 1-minute buckets in PostgreSQL: one evaluation at one instant must take at most 1 s, with at
most one SQL query per distinct leaf. The reference, measured in the same run, is the same
arithmetic in plain Python over the same buckets already in memory (the evaluator's own code
computing the same expressions from leaves folded in Python instead of SQL).

Run: .venv/bin/python bench/rules.py   (PostgreSQL database mon_bench_rules, created if missing;
set BENCH_DATABASE_URL to use another). Exits 1 when a target is missed.
"""

from __future__ import annotations

import bisect
import math
import os
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
DATABASE_URL = os.environ.get(
    "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/mon_bench_rules"
)
os.environ["DATABASE_URL"] = DATABASE_URL
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "monitoring_site.settings")
os.environ.setdefault("TESTING", "true")
os.environ.setdefault("LOG_LEVEL", "WARNING")

import psycopg  # noqa: E402

TARGET_SECONDS = 1.0
SERIES = 1000
MINUTES = 24 * 60
EXPRESSIONS = 1000
LEAVES = 100
RUNS = 5
AT = datetime(2026, 1, 15, 12, 0, 30, tzinfo=UTC)  # the instant evaluated; data ends here
SERVICES = [f"svc{i:02d}" for i in range(21)]
LE = ["5", "10", "25", "50", "100", "250", "500", "1000", "2500", "5000", "10000", "+Inf"]


def ensure_database() -> None:
    name = DATABASE_URL.rsplit("/", 1)[1]
    admin_url = DATABASE_URL.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')


def series_plan() -> list[tuple[str, dict[str, str], str]]:
    """1,000 (name, labels, kind) across the catalogue's counters, gauges and histograms."""
    plan: list[tuple[str, dict[str, str], str]] = []
    for s in SERVICES:
        plan += [("errors_total", {"service": s, "type": f"t{t}"}, "counter") for t in range(10)]
        plan.append(("tickets_sold_total", {"service": s}, "counter"))
        plan += [
            ("http_request_duration_ms_bucket", {"service": s, "le": le}, "counter") for le in LE
        ]
        plan.append(("http_request_duration_ms_count", {"service": s}, "counter"))
        plan += [("queue_size", {"service": s, "queue": f"q{q}"}, "gauge") for q in range(10)]
        plan.append(("active_users", {"service": s}, "gauge"))
        plan += [("cache_hit_rate", {"service": s, "cache": f"c{c}"}, "gauge") for c in range(5)]
        plan.append(("marketplace_active_listings", {"service": s}, "gauge"))
        plan += [
            ("revenue_total_cents", {"service": s, "type": f"r{r}"}, "counter") for r in range(6)
        ]
    plan += [
        ("refunds_processed_total", {"service": "payment", "reason": f"x{r}"}, "counter")
        for r in range(SERIES - len(plan))
    ]
    assert len(plan) == SERIES
    return plan


def load_data() -> None:
    """Write the series and their buckets once (COPY); later runs reuse them."""
    from django.db import connection

    from metrics_app.models import Bucket, Series

    if Series.objects.count() == SERIES and Bucket.objects.count() == SERIES * MINUTES:
        return
    print("loading 1,000 series x 1,440 buckets (once)...", flush=True)
    Bucket.objects.all().delete()
    Series.objects.all().delete()
    rng = random.Random(5)
    first = AT.replace(second=0) - timedelta(minutes=MINUTES - 1)
    rows = [
        Series(
            name=name,
            family=name.rsplit("_", 1)[0] if name.endswith(("_bucket", "_count")) else name,
            labels=labels,
            labels_key=",".join(f"{k}={v}" for k, v in sorted(labels.items())),
            kind=kind,
            value=0.0,
            value_at=AT,
            created_at=first - timedelta(days=1),
            updated_at=AT,
        )
        for name, labels, kind in series_plan()
    ]
    Series.objects.bulk_create(rows, batch_size=500)
    table = Bucket._meta.db_table
    # read the series before COPY starts: the connection cannot run a query during a COPY
    all_series = list(Series.objects.order_by("id").values_list("id", "kind"))
    totals: dict[int, float] = {}
    with connection.cursor() as cursor:
        raw = cursor.cursor
        columns = "(series_id, start, count, sum, min, max, last, last_at)"
        with raw.copy(f"COPY {table} {columns} FROM STDIN") as copy:
            for series_id, kind in all_series:
                for minute in range(MINUTES):
                    start = first + timedelta(minutes=minute)
                    if kind == "counter":
                        inc = float(rng.randint(0, 20))
                        totals[series_id] = totals.get(series_id, 0.0) + inc
                        copy.write_row((series_id, start, 1, inc, inc, inc, inc, start))
                    else:
                        values = [rng.uniform(0, 1000) for _ in range(rng.randint(1, 3))]
                        copy.write_row(
                            (
                                series_id,
                                start,
                                len(values),
                                sum(values),
                                min(values),
                                max(values),
                                values[-1],
                                start + timedelta(seconds=50),
                            )
                        )
    for series_id, total in totals.items():
        Series.objects.filter(id=series_id).update(value=total)
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {table}")
        cursor.execute(f"ANALYZE {Series._meta.db_table}")


def leaf_pool() -> list[str]:
    """100 distinct leaves: selectors x windows x offsets."""
    windows = ["1m", "5m", "15m", "1h"]
    pool: list[str] = []
    for w in windows:
        pool += [
            f"errors_total[{w}]",
            f'errors_total{{type="t1"}}[{w}]',
            f'errors_total{{type=~"t[2-4]"}}[{w}]',
            f"tickets_sold_total[{w}]",
            f"http_request_duration_ms_bucket[{w}]",
            f"http_request_duration_ms_count[{w}]",
            f"revenue_total_cents[{w}]",
            f"refunds_processed_total[{w}]",
            f"queue_size[{w}]",
            f"cache_hit_rate[{w}]",
            f"active_users[{w}]",
            f'queue_size{{queue="q1"}}[{w}]',
        ]
    for o in ["5m", "1h", "6h"]:
        pool += [
            f"tickets_sold_total[5m] offset {o}",
            f"errors_total[5m] offset {o}",
            f"revenue_total_cents[1h] offset {o}",
            f"http_request_duration_ms_bucket[5m] offset {o}",
        ]
    pool += [f'queue_size{{service="{s}"}}' for s in SERVICES]
    pool += [f'active_users{{service="{s}"}}' for s in SERVICES[:15]]
    pool += ["queue_size", "active_users", "cache_hit_rate", "marketplace_active_listings"]
    assert len(set(pool)) == LEAVES, len(set(pool))
    return pool


def expression(index: int, leaves: list[str], rng: random.Random) -> str:
    """One of the mixed shapes, over leaves of the pool (every leaf is used)."""
    leaf = leaves[index % LEAVES]
    counter = leaf.split("[")[0].split("{")[0].endswith(("_total", "_cents", "_bucket", "_count"))
    n = index
    if "[" not in leaf:
        return rng.choice(
            [
                f"max({leaf}) - {n}",
                f"sum by (service) ({leaf}) / {n + 1}",
                f"avg({leaf}) * {n}",
                f"count({leaf}) + {n}",
            ]
        )
    if "_bucket" in leaf:
        q = (index % 99 + 1) / 100
        return f"histogram_quantile({q}, sum by (service, le) (rate({leaf})))"
    if counter:
        other = "tickets_sold_total[5m]"
        return rng.choice(
            [
                f"sum(rate({leaf})) * {n}",
                f"sum by (service) (increase({leaf})) / on (service) "
                f"sum by (service) (increase({other})) * 100 + {n}",
                f"sum(increase({leaf})) / sum(increase({other})) - {n}",
                f"max(count_over_time({leaf})) + {n}",
            ]
        )
    return rng.choice(
        [
            f"max(avg_over_time({leaf})) - {n}",
            f"min(min_over_time({leaf})) + {n}",
            f"sum by (service) (max_over_time({leaf})) * {n}",
            f"avg(last_over_time({leaf})) / {n + 1}",
        ]
    )


def reference(exprs: list, memory: dict, series: list) -> float:
    """The same expressions computed in plain Python from buckets already in memory."""
    from alerts.language.backends import StoredValues
    from alerts.language.evaluator import Evaluation
    from alerts.language.planner import (
        LOOKBACK,
        SeriesData,
        _matches,
        minutes_of,
        selector_kind,
        window_end,
    )
    from alerts.language.tree import Selector, walk

    started = time.perf_counter()
    selectors = {n.leaf_key(): n for e in exprs for n in walk(e) if isinstance(n, Selector)}
    leaves = {}
    for key, sel in selectors.items():
        end = window_end(AT, sel.offset)
        span = minutes_of(sel.window) if sel.window else LOOKBACK // 60
        start = end - timedelta(minutes=span)
        counter = selector_kind(sel.name) == "counter"
        rows = []
        for sid, name, labels, value in series:
            if name != sel.name or not _matches(labels, sel.matchers):
                continue
            starts, buckets = memory[sid]
            lo, hi = bisect.bisect_left(starts, start), bisect.bisect_left(starts, end)
            chunk = buckets[lo:hi]
            if sel.window is None and counter:
                later = sum(b[1] for b in buckets[hi:])
                rows.append(SeriesData(labels=labels, value=value - later))
                continue
            if not chunk and not counter:
                continue
            rows.append(
                SeriesData(
                    labels=labels,
                    count=float(sum(b[0] for b in chunk)),
                    total=sum(b[1] for b in chunk),
                    low=min((b[2] for b in chunk), default=math.nan),
                    high=max((b[3] for b in chunk), default=math.nan),
                    last=max(chunk, key=lambda b: b[5])[4] if chunk else math.nan,
                )
            )
        leaves[key] = rows
    evaluation = Evaluation(StoredValues(leaves))
    for e in exprs:
        evaluation.result(e)
    return time.perf_counter() - started


def main() -> int:
    ensure_database()
    import django

    django.setup()
    import time_machine
    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from alerts.language import RuleError, evaluate_many, parse
    from alerts.language.tree import Selector, walk
    from metrics_app.models import Bucket, Series

    call_command("migrate", verbosity=0)
    load_data()
    rng = random.Random(7)
    pool = leaf_pool()
    texts = [expression(i, pool, rng) for i in range(EXPRESSIONS)]
    exprs = [parse(t) for t in texts]
    distinct = {n.leaf_key() for e in exprs for n in walk(e) if isinstance(n, Selector)}
    timings, queries, errors = [], 0, 0
    with time_machine.travel(AT + timedelta(seconds=5), tick=False):
        for _ in range(RUNS):
            with CaptureQueriesContext(connection) as captured:
                started = time.perf_counter()
                results = evaluate_many(exprs, at=AT)
                timings.append(time.perf_counter() - started)
            queries = len(captured.captured_queries)
            errors = sum(isinstance(r, RuleError) for r in results)
        series = [(s.id, s.name, s.labels, s.value) for s in Series.objects.all()]
        memory: dict[int, tuple[list, list]] = {s[0]: ([], []) for s in series}
        for sid, start, count, total, low, high, last, last_at in (
            Bucket.objects.order_by("series_id", "start")
            .values_list("series_id", "start", "count", "sum", "min", "max", "last", "last_at")
            .iterator(chunk_size=20000)
        ):
            memory[sid][0].append(start)
            memory[sid][1].append((count, total, low, high, last, last_at))
        ref = statistics.median(reference(exprs, memory, series) for _ in range(RUNS))
    median = statistics.median(timings)
    print(
        f"expressions: {EXPRESSIONS}, distinct leaves: {len(distinct)}, series: {SERIES}, "
        f"buckets: {SERIES * MINUTES:,}"
    )
    print(
        f"evaluation at one instant: median {median * 1000:.0f} ms over {RUNS} runs "
        f"(min {min(timings) * 1000:.0f} ms); SQL queries: {queries}; errors: {errors}"
    )
    print(
        f"reference (plain Python over buckets in memory): {ref * 1000:.0f} ms; "
        f"ratio {median / ref:.2f}x"
    )
    ok = median <= TARGET_SECONDS and queries <= len(distinct) and errors == 0
    print("target: <= 1 s and queries <= distinct leaves:", "met" if ok else "MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
