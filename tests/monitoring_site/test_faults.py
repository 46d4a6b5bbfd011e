"""Faults under real processes (issue #13): the database or Redis stops under gunicorn.

Each test starts its own server (PostgreSQL or Redis) on a free port under a temporary directory,
starts bin/web (and bin/worker) against it, stops the server while clients ingest and read, and
starts it again. The suite's shared servers are never touched.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import pytest
import requests

from tests.support.fake_vendors import WebhookReceiver
from tests.support.own_servers import OwnPostgres, OwnRedis, free_port
from tests.support.vendor_fixtures import WEBHOOK_SECRET

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

BASE_DIR = Path(__file__).resolve().parents[2]
ADMIN = ("faults-admin", "faults-admin-password-1")
_T = TypeVar("_T")


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
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)


@dataclass
class Site:
    """bin/web (and bin/worker) of one test, with its environment and an ingest token."""

    env: dict[str, str]
    var_dir: Path
    url: str = ""
    token: str = ""
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def manage(self, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=BASE_DIR,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        return done.stdout

    def prepare(self) -> None:
        self.manage("migrate", "--noinput", "-v0")
        self.token = self.manage("create_ingest_token", "payment").strip()
        self.manage("bootstrap")

    def start(self, *scripts: str) -> None:
        log = (self.var_dir / "processes.log").open("ab")
        for script in scripts:
            self.processes.append(
                subprocess.Popen(
                    [script],
                    cwd=BASE_DIR,
                    env=self.env,
                    stdout=log,
                    stderr=log,
                    start_new_session=True,
                )
            )
        self.url = f"http://127.0.0.1:{self.env['PORT']}"
        wait_for(lambda: requests.get(f"{self.url}/status", timeout=2).ok, 90, "gunicorn")

    def stop(self) -> None:
        for process in self.processes:
            stop(process)

    def log(self) -> str:
        path = self.var_dir / "processes.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def push(self, samples: list[dict[str, Any]]) -> requests.Response:
        return requests.post(
            f"{self.url}/api/v1/metrics/ingest",
            data=json.dumps({"samples": samples}),
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
            timeout=15,
        )

    def access(self) -> str:
        response = requests.post(
            f"{self.url}/api/auth/token/",
            json={"username": ADMIN[0], "password": ADMIN[1]},
            timeout=10,
        )
        assert response.status_code == 200, response.text
        return str(response.json()["access"])

    def api(self, path: str, access: str) -> requests.Response:
        return requests.get(
            f"{self.url}{path}", headers={"Authorization": f"Bearer {access}"}, timeout=15
        )

    def metric(self, pattern: str) -> float | None:
        response = requests.get(f"{self.url}/metrics", timeout=15)
        response.raise_for_status()
        found = re.search(rf"^{pattern} (\S+)$", response.text, re.MULTILINE)
        return float(found.group(1)) if found else None


def site_env(var_dir: Path, **extra: str) -> dict[str, str]:
    (var_dir / "multiproc").mkdir(parents=True, exist_ok=True)
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        "LANG": "C.UTF-8",
        "PYTHON_DOTENV_DISABLED": "1",
        "DJANGO_SETTINGS_MODULE": "monitoring_site.settings",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "JWT_SECRET": secrets.token_urlsafe(50),
        "VAR_DIR": str(var_dir),
        "PORT": str(free_port()),
        "WEB_CONCURRENCY": "2",
        "PROMETHEUS_MULTIPROC_DIR": str(var_dir / "multiproc"),
        "CACHE_KEY_PREFIX": f"faults-{uuid.uuid4().hex[:8]}",
        "WORKER_CLUSTER_NAME": f"faults-{uuid.uuid4().hex[:8]}",
        "Q_WORKERS": "1",
        "METRICS_HOST_SAMPLING": "false",
        "LOG_LEVEL": "WARNING",
        "DJANGO_SUPERUSER_USERNAME": ADMIN[0],
        "DJANGO_SUPERUSER_PASSWORD": ADMIN[1],
        **extra,
    }


# --- PostgreSQL unavailable during ingest -------------------------------------------------------


@pytest.fixture
def postgres_site(tmp_path: Path) -> Iterator[tuple[Site, OwnPostgres]]:
    server = OwnPostgres()
    site = Site(
        env=site_env(
            tmp_path / "var",
            DATABASE_URL=server.url,
            DATABASE_CONNECT_TIMEOUT="2",
            METRICS_CACHE_SECONDS="1",
            UNAVAILABLE_RETRY_AFTER_SECONDS="5",
        ),
        var_dir=tmp_path / "var",
    )
    try:
        server.start()
        server.create_database()
        site.prepare()
        site.start("bin/web")
        yield site, server
    finally:
        site.stop()
        server.remove()


def test_postgres_down_answers_503_with_retry_after_and_a_client_that_retries_loses_nothing(
    postgres_site: tuple[Site, OwnPostgres],
) -> None:
    site, server = postgres_site
    batch = [{"metric": "tickets_sold_total", "value": 5}] * 4
    assert site.push(batch).status_code == 202, site.log()
    access = site.access()
    assert site.api("/api/alerts", access).status_code == 200
    assert site.metric(r'tickets_sold_total\{service="payment"\}') == 20.0

    server.stop()
    time.sleep(1.2)  # /metrics' cache (METRICS_CACHE_SECONDS=1) has expired

    refused = site.push(batch)
    reads = [site.api(path, access) for path in ("/api/alerts", "/api/v1/metrics/series")]
    scrape = requests.get(f"{site.url}/metrics", timeout=15)
    for response in (refused, *reads, scrape):
        assert (response.status_code, response.headers.get("Retry-After")) == (503, "5"), (
            response.request.url,
            response.text[:300],
            site.log(),
        )
    assert refused.json()["code"] == "unavailable"

    server.start()
    # The client retries the refused batch on 503, after Retry-After, until it is taken.
    retried = wait_for(lambda: site.push(batch).status_code == 202, 60, "ingest after restart")
    assert retried
    assert site.metric(r'tickets_sold_total\{service="payment"\}') == 40.0
    assert site.api("/api/alerts", access).status_code == 200


# --- Redis stopped and restarted while ingest, the API and dispatch run -------------------------


@pytest.fixture
def redis_site(tmp_path: Path) -> Iterator[tuple[Site, OwnRedis, WebhookReceiver]]:
    (tmp_path / "redis").mkdir()
    server = OwnRedis(tmp_path / "redis")
    site = Site(
        env=site_env(
            tmp_path / "var",
            REDIS_URL=server.url,
            REDIS_RETRY_SECONDS="1",
            METRICS_CACHE_SECONDS="1",
            ALLOW_HTTP_WEBHOOKS="true",
            WEBHOOK_ALLOW_PRIVATE="true",
        ),
        var_dir=tmp_path / "var",
    )
    with WebhookReceiver(secret=WEBHOOK_SECRET) as receiver:
        try:
            server.start()
            site.prepare()
            site.manage(
                "shell",
                "-c",
                "from alerts.models import NotificationChannel as C; "
                f"C.objects.create(name='Hook', kind='webhook', config={{'url': "
                f"'{receiver.url}/hook', 'secret': '{WEBHOOK_SECRET}'}})",
            )
            site.start("bin/web", "bin/worker")
            yield site, server, receiver
        finally:
            site.stop()
            server.stop()


def test_redis_down_is_a_degraded_mode_and_broker_work_resumes_when_it_returns(
    redis_site: tuple[Site, OwnRedis, WebhookReceiver],
) -> None:
    site, server, receiver = redis_site
    batch = [{"metric": "tickets_sold_total", "value": 1}] * 5
    assert site.push(batch).status_code == 202, site.log()
    access = site.access()

    server.stop()
    stopped = time.time()
    answers = [site.push(batch).status_code for _ in range(10)]
    login = site.access()  # login is throttled through the cache too
    paths = ("/api/alerts", "/api/v1/metrics/series")
    reads = [site.api(path, access).status_code for path in paths]
    scrape = requests.get(f"{site.url}/metrics", timeout=15)
    queued = requests.post(
        f"{site.url}/api/alerts/test", headers={"Authorization": f"Bearer {access}"}, timeout=15
    )
    detailed = site.api("/api/v1/monitoring/health/detailed", login).json()

    assert answers == [202] * 10, site.log()
    assert reads == [200, 200] and scrape.status_code == 200
    assert queued.status_code in (200, 201, 202), queued.text
    assert detailed["dependencies"]["redis"]["status"] == "down"
    assert detailed["dependencies"]["redis"]["error"].startswith("seen by the web tier: ")
    fallback = re.search(r"^monitoring_cache_fallback_operations_total (\S+)$", scrape.text, re.M)
    assert fallback is not None and float(fallback.group(1)) > 0

    time.sleep(max(0.0, stopped + 5 - time.time()))
    server.start()
    restarted = time.time()

    # The test message queued while the broker was down is delivered once the worker runs again
    # (the minute sweep), and scheduled jobs run again: nothing waits for a person.
    def test_messages() -> list[Any]:
        return [b for b in receiver.bodies if b["alerts"][0]["annotations"].get("event") == "test"]

    wait_for(test_messages, 180, "the message queued during the outage")
    runs = wait_for(
        lambda: [
            run
            for run in site.api("/api/v1/monitoring/jobs/runs", access).json()["results"]
            if datetime.fromisoformat(run["started_at"].replace("Z", "+00:00")).timestamp()
            > restarted
        ],
        120,
        "a job run after Redis returned",
    )
    assert runs
    assert len(test_messages()) == 1
    assert site.metric(r'tickets_sold_total\{service="payment"\}') == 55.0
