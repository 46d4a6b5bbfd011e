"""The real thing: gunicorn (two workers) via bin/web, a qcluster via bin/worker, and Prometheus.

One service is started for the module with its own VAR_DIR (SQLite), its own multiprocess
directory and a shared Redis cache (the production layout), so every worker serves the same
cluster values, and the figures the qcluster recorded show on every worker.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypedDict, TypeVar

import pytest
import requests

from tests.support.components import require_binary

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

BASE_DIR = Path(__file__).resolve().parents[2]
REDIS_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/1"
_T = TypeVar("_T")


class PromSample(TypedDict):
    """One series of an instant query's answer (Prometheus HTTP API)."""

    metric: dict[str, str]
    value: tuple[float, str]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(check: Callable[[], _T], timeout: float, what: str) -> _T:
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        try:
            value = check()
        except (requests.RequestException, OSError, ValueError) as exc:
            last = exc
        else:
            if value:
                return value
            last = value
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}; last: {last!r}")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)


@dataclass
class Service:
    url: str
    port: int
    env: dict[str, str]
    token: str

    def manage(self, *args: str) -> str:
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=BASE_DIR,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        return result.stdout

    def push(self, samples: list[dict[str, object]]) -> requests.Response:
        return requests.post(
            f"{self.url}/api/v1/metrics/ingest",
            data=json.dumps({"samples": samples}),
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
            timeout=10,
        )


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    var_dir = tmp_path_factory.mktemp("var")
    port = free_port()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        "LANG": "C.UTF-8",
        "PYTHON_DOTENV_DISABLED": "1",  # nothing from the checkout's .env
        "DJANGO_SETTINGS_MODULE": "monitoring_site.settings",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "JWT_SECRET": secrets.token_urlsafe(50),
        "VAR_DIR": str(var_dir),
        "PORT": str(port),
        "WEB_CONCURRENCY": "2",
        "PROMETHEUS_MULTIPROC_DIR": str(var_dir / "multiproc"),
        "REDIS_URL": REDIS_URL,
        "CACHE_KEY_PREFIX": f"metrics-e2e-{uuid.uuid4().hex[:8]}",
        "WORKER_CLUSTER_NAME": f"metrics-e2e-{uuid.uuid4().hex[:8]}",
        "Q_WORKERS": "1",
        "METRICS_HOST_SAMPLING": "false",
        "LOG_LEVEL": "WARNING",
    }
    (var_dir / "multiproc").mkdir()
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
        cwd=BASE_DIR,
        env=env,
        check=True,
        timeout=300,
    )
    token = subprocess.run(
        [sys.executable, "manage.py", "create_ingest_token", "payment"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout.strip()
    log = (var_dir / "processes.log").open("wb")
    web = subprocess.Popen(
        ["bin/web"], cwd=BASE_DIR, env=env, stdout=log, stderr=log, start_new_session=True
    )
    worker = subprocess.Popen(
        ["bin/worker"], cwd=BASE_DIR, env=env, stdout=log, stderr=log, start_new_session=True
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: requests.get(f"{url}/status", timeout=2).ok, 60, "gunicorn")
        yield Service(url=url, port=port, env=env, token=token)
    finally:
        stop(web)
        stop(worker)
        log.close()


def scrape_once(url: str) -> tuple[int, str]:
    response = requests.get(f"{url}/metrics", headers={"Connection": "close"}, timeout=10)
    response.raise_for_status()
    return int(response.headers["X-Served-By-Pid"]), response.text


CLUSTER_LINES = re.compile(r"^(tickets_sold_total|monitoring_job_runs_total)\{.*$", re.MULTILINE)


def cluster_lines(text: str) -> set[str]:
    return {match.group(0) for match in CLUSTER_LINES.finditer(text)}


def test_two_gunicorn_workers_serve_the_same_values_including_the_qclusters_job_runs(
    service: Service,
) -> None:
    assert service.push([{"metric": "tickets_sold_total", "value": 7}] * 3).status_code == 202
    # The qcluster runs the aggregation job; its JobRun row is what /metrics reports.
    service.manage(
        "shell",
        "-c",
        "from django_q.tasks import async_task; "
        "async_task('monitoring_site.jobs.run_job', 'metrics.aggregate')",
    )
    expected = {
        'tickets_sold_total{service="payment"} 21.0',
        'monitoring_job_runs_total{job="metrics.aggregate",outcome="success"} 1.0',
    }

    def views_by_pid() -> dict[int, set[str]] | None:
        with ThreadPoolExecutor(max_workers=6) as pool:
            results = list(pool.map(lambda _: scrape_once(service.url), range(24)))
        seen: dict[int, set[str]] = {}
        for pid, text in results:
            seen.setdefault(pid, set()).update(cluster_lines(text))
        complete = {pid: lines for pid, lines in seen.items() if expected <= lines}
        return complete if len(complete) >= 2 else None

    views = wait_for(views_by_pid, 90, "two workers serving the ingested and recorded values")
    assert isinstance(views, dict) and len(views) >= 2
    first, second = list(views.values())[:2]
    assert first == second


def test_a_real_prometheus_scrapes_the_service_and_reports_the_ingested_totals(
    service: Service, tmp_path: Path
) -> None:
    prometheus = require_binary("prometheus", "/usr/bin/prometheus")
    assert (
        service.push(
            [
                {"metric": "revenue_total_cents", "labels": {"type": "primary"}, "value": 4200},
                {"metric": "revenue_total_cents", "labels": {"type": "primary"}, "value": 800},
                {"metric": "payment_processing_duration_ms", "observations": [120, 900, 45000]},
            ]
        ).status_code
        == 202
    )
    port = free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global: {scrape_interval: 1s, scrape_timeout: 1s}\n"
        "scrape_configs:\n"
        "  - job_name: monitoring\n"
        f"    static_configs: [{{targets: ['127.0.0.1:{service.port}']}}]\n"
    )
    process = subprocess.Popen(
        [
            prometheus,
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / "prometheus.log").open("wb"),
        start_new_session=True,
    )
    api = f"http://127.0.0.1:{port}/api/v1/query"

    def query(expression: str) -> list[PromSample]:
        body = requests.get(api, params={"query": expression}, timeout=5).json()
        return body["data"]["result"]

    def values(expression: str) -> dict[str, float]:
        return {
            json.dumps(row["metric"], sort_keys=True): float(row["value"][1])
            for row in query(expression)
        }

    try:
        wait_for(lambda: query('up{job="monitoring"} == 1'), 60, "a successful scrape")
        revenue = wait_for(
            lambda: values('revenue_total_cents_total{service="payment",type="primary"} == 5000'),
            30,
            "the revenue total",
        )
        assert list(revenue.values()) == [5000.0]
        count = values('payment_processing_duration_ms_count{service="payment"}')
        assert list(count.values()) == [3.0]
        under_a_second = values('payment_processing_duration_ms_bucket{le="1000"}')
        assert list(under_a_second.values()) == [2.0]
    finally:
        stop(process)
