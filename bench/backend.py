"""Benchmark of one evaluation cycle through each metrics backend (issue #20).

1,000 enabled rules over 1,000 series (50 services: ``errors_total`` for 10 types and
``queue_size`` for 10 queues each), 30 minutes of pushes every 15 s, written to the embedded
store (PostgreSQL) and to a VictoriaMetrics started here (``victoria-metrics`` on a free port,
answer cache off, so every cycle really reads). The rules share selectors as real rule sets do:
400 error-rate rules, 200 error-increase rules, 300 ``max_over_time``/``avg_over_time`` queue
rules and 100 instant queue rules read 200 distinct selector groups.

Measured, in the same run: a steady cycle (``run_cycle``: every rule evaluated, every open
alert's value refreshed) on the embedded store and on VictoriaMetrics, median of 5, and the
queries each sent for the rules' leaves. Targets: each cycle under 1 s, and no more queries than
selector groups. The ratio printed is VictoriaMetrics' cycle to the embedded store's.

Run: .venv/bin/python bench/backend.py   (PostgreSQL database mon_bench_backend, created if
missing; set BENCH_DATABASE_URL to use another). Exits 1 when a target is missed.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
DATABASE_URL = os.environ.get(
    "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/mon_bench_backend"
)
os.environ["DATABASE_URL"] = DATABASE_URL
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "monitoring_site.settings")
os.environ.setdefault("TESTING", "true")
os.environ.setdefault("LOG_LEVEL", "ERROR")

import httpx  # noqa: E402
import psycopg  # noqa: E402

# Half a second before a minute boundary: minute-aligned and exact windows hold the same pushes.
AT = datetime.now(tz=UTC).replace(second=0, microsecond=0) - timedelta(milliseconds=500)
SERVICES = [f"svc{i:02d}" for i in range(50)]
TYPES = [f"t{i}" for i in range(10)]
QUEUES = [f"q{i}" for i in range(10)]
HISTORY_MINUTES = 30
RUNS = 5
TARGET_SECONDS = 1.0
VICTORIA_METRICS = "/usr/bin/victoria-metrics"


def ensure_database() -> None:
    name = DATABASE_URL.rsplit("/", 1)[1]
    admin_url = DATABASE_URL.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')


def push_times() -> list[datetime]:
    first = AT.replace(second=0, microsecond=0) - timedelta(minutes=HISTORY_MINUTES)
    return [
        first + timedelta(minutes=m, seconds=s)
        for m in range(HISTORY_MINUTES + 1)
        for s in (7, 22, 37, 52)
        if first + timedelta(minutes=m, seconds=s) <= AT
    ]


def series_plan() -> list[tuple[str, dict[str, str], int]]:
    """(metric, labels, index): the 1,000 series."""
    plan = []
    for index, service in enumerate(SERVICES):
        plan += [("errors_total", {"service": service, "type": t}, index) for t in TYPES]
        plan += [("queue_size", {"service": service, "queue": q}, index) for q in QUEUES]
    return plan


def value_of(metric: str, index: int, push: int) -> float:
    if metric == "errors_total":
        return float(index % 5)  # increments per push
    return 10.0 * index + (push % 6)


def load_embedded() -> int:
    from metrics_app.catalogue import get_metric
    from metrics_app.ingest import Sample, aggregate
    from metrics_app.services import store_batch

    specs = {name: get_metric(name) for name in ("errors_total", "queue_size")}
    samples = []
    for push, moment in enumerate(push_times()):
        for metric, labels, index in series_plan():
            spec = specs[metric]
            assert spec is not None
            samples.append(Sample(spec, labels, (value_of(metric, index, push),), moment))
    store_batch(batch=aggregate(samples), now=AT)
    return len(samples)


def victoria_lines() -> str:
    lines = []
    times = push_times()
    for metric, labels, index in series_plan():
        values, total = [], 0.0
        for push in range(len(times)):
            value = value_of(metric, index, push)
            total = total + value if metric == "errors_total" else value
            values.append(total)
        lines.append(
            json.dumps(
                {
                    "metric": {"__name__": metric, **labels},
                    "values": values,
                    "timestamps": [int(t.timestamp() * 1000) for t in times],
                }
            )
        )
    return "\n".join(lines)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_victoria(directory: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    process = subprocess.Popen(
        [
            VICTORIA_METRICS,
            f"-storageDataPath={directory}/data",
            f"-httpListenAddr=127.0.0.1:{port}",
            "-search.latencyOffset=0s",
            "-search.disableCache",
            "-loggerLevel=ERROR",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/health", timeout=1).status_code == 200:
                return process, url
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("victoria-metrics did not start")


def make_rules() -> None:
    from alerts.models import Rule

    rules: list[Rule] = []

    def rule(expression: str, threshold: float, operator: str = ">") -> None:
        n = len(rules)
        rules.append(
            Rule(
                name=f"rule {n}",
                slug=f"rule-{n}",
                expression=expression,
                operator=operator,
                threshold=threshold,
                for_seconds=60,
                channels=[],
            )
        )

    for service in SERVICES:
        selector = f'errors_total{{service="{service}"}}'
        for k in range(8):  # 400
            rule(f"sum by (service) (rate({selector}[5m])) * 60", 5 * k + 20)
        for k in range(4):  # 200
            rule(f"sum by (service) (increase({selector}[10m]))", 100 * k + 250)
        queues = f'queue_size{{service="{service}"}}'
        for k in range(3):  # 300
            rule(f"max by (service) (max_over_time({queues}[5m]))", 100 * k + 200)
            rule(f"avg by (service) (avg_over_time({queues}[5m]))", 100 * k + 150, "<")
        for k in range(2):  # 100
            rule(f"max({queues})", 150 * k + 250)
    Rule.objects.bulk_create(rules)


def steady_cycles() -> list[float]:
    from alerts.engine.cycle import run_cycle

    timings = []
    for run in range(RUNS):
        cycle = run_cycle(at=AT + timedelta(milliseconds=50 * (run + 1)))
        assert cycle.duration_ms is not None and not cycle.skipped, "the cycle was skipped"
        assert not cycle.error, cycle.error
        timings.append(cycle.duration_ms / 1000)
    return timings


def leaf_queries(backend: Any) -> tuple[int, int, int, float]:
    """(queries sent, selector groups, leaves, seconds) for the rules' expressions, read once."""
    from alerts.engine.cycle import evaluable_rules, parsed
    from alerts.language import evaluate_many
    from alerts.language.backends import groups_of, leaves_of

    exprs = [parsed(rule.expression) for rule in evaluable_rules()]
    leaves = leaves_of(exprs)
    before, clock = backend.queries, time.perf_counter()
    evaluate_many(exprs, at=AT, backend=backend)
    seconds = time.perf_counter() - clock
    return backend.queries - before, len(groups_of(leaves)), len(leaves), seconds


def main() -> int:
    ensure_database()
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    from alerts.engine.cycle import run_cycle
    from alerts.language.backends import EmbeddedBackend, PrometheusBackend
    from alerts.models import Alert

    call_command("migrate", verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE alerts_alertevent, alerts_alert, alerts_rule, alerts_historicalrule, "
            "alerts_evaluationcycle, alerts_alertfingerprint, metrics_app_series CASCADE"
        )
    samples = load_embedded()
    make_rules()
    directory = tempfile.mkdtemp(prefix="bench-victoria-")
    process, url = start_victoria(directory)
    try:
        httpx.post(url + "/api/v1/import", content=victoria_lines(), timeout=60).raise_for_status()
        httpx.get(url + "/internal/force_flush", timeout=60).raise_for_status()
        time.sleep(1)

        figures: dict[str, dict[str, Any]] = {}
        for name, backend_url in (("embedded", ""), ("victoria-metrics", url)):
            settings.METRICS_BACKEND = "prometheus" if backend_url else "embedded"
            settings.METRICS_BACKEND_URL = backend_url
            Alert.objects.all().delete()
            run_cycle(at=AT - timedelta(seconds=60))  # opens the alerts (pending)
            run_cycle(at=AT)  # they fire
            timings = steady_cycles()
            backend = PrometheusBackend() if backend_url else EmbeddedBackend()
            queries, groups, leaves, reading = leaf_queries(backend)
            figures[name] = {
                "cycle": statistics.median(timings),
                "reading": reading,
                "queries": queries,
                "groups": groups,
                "leaves": leaves,
                "firing": Alert.objects.filter(state="firing").count(),
            }
    finally:
        process.terminate()
        process.wait(timeout=10)
        shutil.rmtree(directory, ignore_errors=True)

    print(f"1,000 rules over {len(series_plan())} series, {samples} samples over 30 minutes")
    ok = True
    for name, f in figures.items():
        met = f["cycle"] < TARGET_SECONDS and f["queries"] <= f["groups"]
        ok = ok and met
        print(
            f"{name:17s} steady cycle (median of {RUNS}): {f['cycle']:.3f} s "
            f"(evaluate_many alone {f['reading']:.3f} s); "
            f"queries {f['queries']} for {f['groups']} selector groups ({f['leaves']} leaves); "
            f"firing alerts {f['firing']}; {'met' if met else 'MISSED'}"
        )
    ratio = figures["victoria-metrics"]["cycle"] / figures["embedded"]["cycle"]
    same = figures["victoria-metrics"]["firing"] == figures["embedded"]["firing"]
    print(f"ratio victoria-metrics / embedded: {ratio:.2f}x; same firing alerts: {same}")
    print(f"target: each cycle < {TARGET_SECONDS} s, queries <= selector groups")
    print(f"load average: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    return 0 if ok and same else 1


if __name__ == "__main__":
    sys.exit(main())
