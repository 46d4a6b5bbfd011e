"""Benchmark of ingestion through HTTP into PostgreSQL (issue 3).

One gunicorn worker (bin/web) in front of PostgreSQL receives batches of 1,000 samples over 200
series (100 counters, 100 gauges) with timestamps spread over the last 10 minutes, sent one after
the other over a keep-alive connection (bodies serialised beforehand). The reference, in the same
run, is PostgreSQL ``COPY`` of the same samples as raw rows into a plain table: the cost of
writing them at all. Target: at least 20,000 samples/s; the ratio to COPY is printed.

Run: .venv/bin/python bench/ingest.py   (PostgreSQL database mon_bench_metrics, recreated; set
BENCH_DATABASE_URL to use another). Exits 1 when the target is missed.
"""

from __future__ import annotations

import json
import os
import random
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypedDict

import psycopg
import requests

BASE_DIR = Path(__file__).resolve().parent.parent
DATABASE_URL = os.environ.get(
    "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/mon_bench_metrics"
)
BATCH = 1000
SERIES = 200
BATCHES = 40
RUNS = 5
TARGET = 20_000.0


def recreate_database() -> None:
    name = DATABASE_URL.rsplit("/", 1)[1]
    admin_url = DATABASE_URL.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PushedSample(TypedDict):
    """One sample of the ingest API's body."""

    metric: str
    labels: dict[str, str]
    value: float
    timestamp: float


def samples(rng: random.Random, now: datetime) -> list[PushedSample]:
    batch: list[PushedSample] = []
    for i in range(BATCH):
        series = rng.randrange(SERIES)
        at = (now - timedelta(seconds=rng.uniform(0, 600))).timestamp()
        if series < SERIES // 2:
            batch.append(
                {"metric": "errors_total", "labels": {"type": f"e{series}"}, "value": 1,
                 "timestamp": at}
            )  # fmt: skip
        else:
            batch.append(
                {"metric": "queue_size", "labels": {"queue": f"q{series}"}, "value": i % 50,
                 "timestamp": at}
            )  # fmt: skip
    return batch


def environment(var_dir: Path, port: int) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        "LANG": "C.UTF-8",
        "PYTHON_DOTENV_DISABLED": "1",  # the measured setup, not the checkout's .env
        "DJANGO_SETTINGS_MODULE": "monitoring_site.settings",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "JWT_SECRET": secrets.token_urlsafe(50),
        "DATABASE_URL": DATABASE_URL,
        "VAR_DIR": str(var_dir),
        "PORT": str(port),
        "WEB_CONCURRENCY": "1",
        "PROMETHEUS_MULTIPROC_DIR": str(var_dir / "multiproc"),
        "THROTTLE_INGEST": "1000000/min",
        "LOG_LEVEL": "WARNING",
    }


def manage(env: dict[str, str], *args: str) -> str:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    ).stdout


def measure_http(url: str, token: str) -> float:
    rng = random.Random(7)
    now = datetime.now(UTC)
    bodies = [json.dumps({"samples": samples(rng, now)}) for _ in range(BATCHES)]
    session = requests.Session()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    started = time.perf_counter()
    for body in bodies:
        response = session.post(f"{url}/api/v1/metrics/ingest", data=body, headers=headers)
        if response.status_code != 202:
            raise SystemExit(f"ingest answered {response.status_code}: {response.text[:300]}")
    return BATCHES * BATCH / (time.perf_counter() - started)


def measure_copy() -> float:
    rng = random.Random(7)
    now = datetime.now(UTC)
    rows = []
    for _ in range(BATCHES):
        for sample in samples(rng, now):
            rows.append(
                (
                    sample["metric"],
                    json.dumps(sample["labels"]),
                    float(sample["value"]),
                    datetime.fromtimestamp(sample["timestamp"], UTC),
                )
            )
    with psycopg.connect(DATABASE_URL) as conn:
        conn.execute("DROP TABLE IF EXISTS bench_raw_samples")
        conn.execute(
            "CREATE TABLE bench_raw_samples (metric text, labels jsonb, value double precision, "
            "at timestamptz)"
        )
        conn.commit()
        started = time.perf_counter()
        with (
            conn.cursor() as cursor,
            cursor.copy("COPY bench_raw_samples (metric, labels, value, at) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(row)
        conn.commit()
        return len(rows) / (time.perf_counter() - started)


def main() -> int:
    recreate_database()
    with tempfile.TemporaryDirectory() as tmp:
        var_dir = Path(tmp)
        (var_dir / "multiproc").mkdir()
        port = free_port()
        env = environment(var_dir, port)
        manage(env, "migrate", "--noinput", "-v0")
        token = manage(env, "create_ingest_token", "bench").strip()
        web = subprocess.Popen(
            ["bin/web"],
            cwd=BASE_DIR,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if requests.get(f"{url}/status", timeout=2).ok:
                        break
                except requests.RequestException:
                    pass
                if time.monotonic() > deadline:
                    raise SystemExit("gunicorn did not start")
                time.sleep(0.2)
            http_rates, copy_rates = [], []
            for _ in range(RUNS):
                http_rates.append(measure_http(url, token))
                copy_rates.append(measure_copy())
        finally:
            os.killpg(web.pid, signal.SIGTERM)
            web.wait(timeout=30)
    http, copy = statistics.median(http_rates), statistics.median(copy_rates)
    runs = ", ".join(f"{rate:,.0f}" for rate in http_rates)
    print(
        f"ingest over HTTP (1 gunicorn worker, batches of {BATCH}, {SERIES} series): "
        f"{http:,.0f} samples/s (runs: {runs})"
    )
    print(f"reference: PostgreSQL COPY of the same raw rows: {copy:,.0f} rows/s")
    print(f"ratio to COPY: {http / copy:.3f} ({copy / http:.1f}x slower than COPY)")
    print(f"target: >= {TARGET:,.0f} samples/s -> {'met' if http >= TARGET else 'MISSED'}")
    return 0 if http >= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
