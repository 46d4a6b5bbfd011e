"""A short run of simulate_platform against a running service (gunicorn and qcluster).

Samples arrive; a scripted outage turns payment down in /health after its failure threshold and
its alert reaches the demo inbox; refused samples are counted; Ctrl-C stops it cleanly.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from demo.inbox import read
from tests.demo.processes import BASE_DIR, base_env, free_block, is_free, stop_group, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

SCENARIO = """\
name: payment down
incidents:
  - kind: service_down
    at: 0s
    duration: 30m
    service: payment
"""


@dataclass
class Running:
    url: str
    env: dict[str, str]
    var_dir: Path
    services: int
    receivers: int

    def manage(self, *args: str) -> str:
        return subprocess.run(
            [sys.executable, "manage.py", *args], cwd=BASE_DIR, env=self.env,
            capture_output=True, text=True, timeout=120, check=True,
        ).stdout  # fmt: skip


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    var_dir = tmp_path_factory.mktemp("var")
    (var_dir / "multiproc").mkdir()
    port, services, receivers = free_block(1), free_block(21), free_block(4)
    env = {
        **base_env(var_dir),
        "PORT": str(port),
        "WEB_CONCURRENCY": "1",
        "Q_WORKERS": "1",
        "DEMO_MODE": "true",
        "DASHBOARD_PUBLIC": "true",
        "DEMO_INBOX_FILE": str(var_dir / "inbox.jsonl"),
        "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(receivers), "SMTP_TLS": "false",
        "ALERT_TO_EMAIL": "oncall@demo.local",
        "ALLOW_HTTP_WEBHOOKS": "true", "WEBHOOK_ALLOWED_NETWORKS": "127.0.0.1/32",
        "SLACK_WEBHOOK_URL": f"http://127.0.0.1:{receivers + 1}/services/TDEMO0000/BDEMO0000/demo",
    }  # fmt: skip
    running = Running(f"http://127.0.0.1:{port}", env, var_dir, services, receivers)
    running.manage("migrate", "--noinput", "-v0")
    running.manage("bootstrap")
    running.manage("collectstatic", "--noinput", "-v0")
    # Two failed rounds in a row make payment down (the default is three): a shorter test.
    running.manage("shell", "-c", "from health.models import Service; from health.services import"
                   " update_service; update_service(service=Service.objects.get(slug='payment'),"
                   " changes={'failure_threshold': 2})")  # fmt: skip
    log = (var_dir / "service.log").open("wb")
    processes = [
        subprocess.Popen([name], cwd=BASE_DIR, env=env, stdout=log, stderr=log,
                         start_new_session=True)
        for name in ("bin/web", "bin/worker")
    ]  # fmt: skip
    try:
        wait_for(lambda: requests.get(f"{running.url}/status", timeout=2).ok, 60, "gunicorn")
        yield running
    finally:
        for process in processes:
            stop_group(process)
        log.close()


def test_a_scripted_outage_reaches_health_and_the_inbox_and_ctrl_c_stops_cleanly(
    service: Running, tmp_path: Path
) -> None:
    scenario = tmp_path / "payment.yaml"
    scenario.write_text(SCENARIO)
    out = (tmp_path / "simulator.log").open("wb")
    simulator = subprocess.Popen(
        [sys.executable, "manage.py", "simulate_platform", "--scenario", str(scenario),
         "--url", service.url, "--base-port", str(service.services), "--receivers",
         "--receiver-port", str(service.receivers), "--tick", "2"],
        cwd=BASE_DIR, env=service.env, stdout=out, stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    try:

        def exposition() -> str | None:
            text = requests.get(f"{service.url}/metrics", timeout=5).text
            return text if "tickets_sold_total{" in text else None

        metrics = wait_for(exposition, 60, "samples in /metrics")
        assert 'queue_size{queue="mint",service="queue"}' in metrics

        def payment_state() -> str | None:
            health = requests.get(f"{service.url}/health", timeout=5).json()
            states = {s["name"]: s["status"] for s in health["services"]}
            return states.get("payment") if states.get("payment") == "down" else None

        wait_for(payment_state, 200, "payment down in /health")
        inbox = Path(service.env["DEMO_INBOX_FILE"])
        emails = wait_for(
            lambda: [d for d in read(inbox) if d.channel == "email" and "Service Down" in d.title],
            90, "the Service Down email in the inbox",
        )  # fmt: skip
        assert "payment" in emails[0].title and emails[0].to == "oncall@demo.local"
        page = requests.get(f"{service.url}/demo/inbox/", timeout=5)
        assert page.status_code == 200 and "Firing: Service Down" in page.text
    finally:
        status = stop_group(simulator, signal.SIGINT)
        out.close()
    output = (tmp_path / "simulator.log").read_text()
    assert status == 0, output
    assert "stopped:" in output and " 0 refused by the ingest API" in output, output
    assert all(is_free(service.services + i) for i in range(21))
    assert all(is_free(service.receivers + i) for i in range(4))
