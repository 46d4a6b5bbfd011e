"""Benchmark of one evaluation cycle of the alert engine (issues 6 and 19).

1,000 enabled rules (600 per-service queue rules, 400 per-service error-rate rules with a
volume guard) over 21 services' stored minute and 10-second buckets in PostgreSQL, evaluated on
the evaluator's 15-second grid, with about 100 alerts open. The error-rate windows start within
the last hour, so they slide over the 10-second buckets (issue 19). Measured: a steady cycle
(every rule evaluated, every open alert's value refreshed, nothing else changing), and the first
cycles that open and fire the alerts. The reference, in the same run, is the rule language's
evaluator alone over the same 1,400 expressions at the same instant: the floor of any cycle.
Target: a steady cycle within 3x the reference, and within a third of the 15-second interval
(5 s): the evaluator then still has room for the early evaluations of rules whose series just
received samples, which stop while cycles take more than a third of the interval.

Run: .venv/bin/python bench/alerts_cycle.py   (PostgreSQL database mon_bench_alerts, created if
missing; set BENCH_DATABASE_URL to use another). Exits 1 when a target is missed.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
DATABASE_URL = os.environ.get(
    "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/mon_bench_alerts"
)
os.environ["DATABASE_URL"] = DATABASE_URL
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "monitoring_site.settings")
os.environ.setdefault("TESTING", "true")
os.environ.setdefault("LOG_LEVEL", "ERROR")

import psycopg  # noqa: E402

# The evaluator reads buckets only within their retention of the real clock: now.
AT = datetime.now(tz=UTC).replace(second=30, microsecond=0) - timedelta(minutes=1)
INTERVAL = 15  # RULE_EVALUATION_INTERVAL_SECONDS's default
SERVICES = [f"svc{i:02d}" for i in range(21)]
QUEUE_RULES = 600
RATE_RULES = 400
RUNS = 5
TARGET_RATIO = 3.0
TARGET_SECONDS = INTERVAL / 3


def ensure_database() -> None:
    name = DATABASE_URL.rsplit("/", 1)[1]
    admin_url = DATABASE_URL.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')


def load_rows() -> None:
    from metrics_app.models import Bucket, FineBucket, Series

    minutes = [AT.replace(second=0) - timedelta(minutes=m) for m in range(15)]
    tens = [AT.replace(second=0) - timedelta(seconds=10 * t) for t in range(-6, 84)]
    for index, service in enumerate(SERVICES):
        plan = [
            ("queue_size", {"service": service, "queue": f"q{q}"}, "gauge", 100.0 * (index + q))
            for q in range(5)
        ]
        plan.append(("errors_total", {"service": service, "type": "timeout"}, "counter", index))
        plan.append(("http_request_duration_ms_count", {"service": service}, "counter", 100.0))
        for name, labels, kind, value in plan:
            key = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
            series = Series.objects.create(
                name=name,
                family=name.removesuffix("_count"),
                labels=labels,
                labels_key=key,
                kind=kind,
                value=value,
                value_at=AT,
                created_at=AT - timedelta(days=1),
                updated_at=AT,
            )
            Bucket.objects.bulk_create(
                Bucket(
                    series=series,
                    start=m,
                    count=1,
                    sum=value,
                    min=value,
                    max=value,
                    last=value,
                    last_at=m,
                )
                for m in minutes
            )
            FineBucket.objects.bulk_create(
                FineBucket(
                    series=series,
                    start=t,
                    count=1,
                    sum=value / 6 if kind == "counter" else value,
                    min=value,
                    max=value,
                    last=value,
                    last_at=t + timedelta(seconds=5),
                )
                for t in tens
            )


def make_rules() -> None:
    from alerts.models import Rule

    rules = []
    for i in range(QUEUE_RULES):
        service = SERVICES[i % len(SERVICES)]
        rules.append(
            Rule(
                name=f"queue {i}",
                slug=f"queue-{i}",
                expression=f'max by (service) (queue_size{{service="{service}"}})',
                threshold=2000 + 10 * (i % 40),  # the busiest services cross the lower ones
                for_seconds=60,
            )
        )
    for i in range(RATE_RULES):
        service = SERVICES[i % len(SERVICES)]
        rules.append(
            Rule(
                name=f"errors {i}",
                slug=f"errors-{i}",
                expression=(
                    f'sum by (service) (increase(errors_total{{service="{service}"}}[5m])) / '
                    "sum by (service) "
                    f'(increase(http_request_duration_ms_count{{service="{service}"}}[5m])) * 100'
                ),
                threshold=15 + (i % 10),
                min_volume_expression=(
                    f'sum(increase(http_request_duration_ms_count{{service="{service}"}}[5m]))'
                ),
                min_volume=100,
                for_seconds=60,
            )
        )
    Rule.objects.bulk_create(rules)


def reference_seconds() -> float:
    from alerts.engine.cycle import evaluable_rules, parsed
    from alerts.language import evaluate_many

    exprs = []
    for rule in evaluable_rules():
        exprs.append(parsed(rule.expression))
        if rule.has_guard():
            exprs.append(parsed(rule.min_volume_expression))
    timings = []
    for _ in range(RUNS):
        clock = time.perf_counter()
        evaluate_many(exprs, at=AT)
        timings.append(time.perf_counter() - clock)
    return statistics.median(timings)


def main() -> int:
    ensure_database()
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from alerts.engine.cycle import run_cycle
    from alerts.models import Alert

    call_command("migrate", verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE alerts_alertevent, alerts_alert, alerts_rule, alerts_historicalrule, "
            "alerts_evaluationcycle, alerts_alertfingerprint, metrics_app_series, "
            "metrics_app_finebucket CASCADE"
        )
    load_rows()
    make_rules()

    # On the evaluator's grid: 60 s after the first cycle the alerts fire.
    first = run_cycle(now=AT - timedelta(seconds=60))  # opens the alerts (pending)
    firing = run_cycle(now=AT)  # they fire
    assert first.duration_ms is not None and firing.duration_ms is not None, "a cycle was skipped"
    steady = []
    for run in range(RUNS):
        cycle = run_cycle(now=AT + timedelta(seconds=INTERVAL * (run + 1)))
        assert cycle.duration_ms is not None, "the cycle was skipped"
        steady.append(cycle.duration_ms / 1000)
    reference = reference_seconds()
    cycle_s = statistics.median(steady)
    ratio = cycle_s / reference
    open_alerts = Alert.objects.filter(state="firing").count()
    print(f"rules: {QUEUE_RULES + RATE_RULES} (+{RATE_RULES} guards), firing alerts: {open_alerts}")
    print(f"first cycle (opens {first.changes} alerts):  {first.duration_ms / 1000:.3f} s")
    print(f"firing cycle ({firing.changes} changes):       {firing.duration_ms / 1000:.3f} s")
    print(f"steady cycle, median of {RUNS}:          {cycle_s:.3f} s")
    print(f"reference (evaluate_many alone):      {reference:.3f} s")
    print(f"share of the {INTERVAL} s interval: {cycle_s / INTERVAL:.1%}")
    print(f"ratio: {ratio:.2f}x (target <= {TARGET_RATIO}x and <= {TARGET_SECONDS:g} s)")
    return 0 if ratio <= TARGET_RATIO and cycle_s <= TARGET_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
