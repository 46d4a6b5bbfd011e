"""`make demo` started and stopped in a subprocess: its own database, the inbox page linked from
the dashboard, the simulator running, and Ctrl-C stopping every process it started."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest
import requests

from tests.demo.processes import BASE_DIR, free_block, is_free, stop_group, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.e2e]


def test_make_demo_serves_the_simulated_platform_and_ctrl_c_stops_everything(
    tmp_path: Path,
) -> None:
    port, services, receivers = free_block(1), free_block(21), free_block(4)
    own_database = BASE_DIR / "var" / "monitoring.sqlite3"
    before = own_database.stat().st_mtime if own_database.exists() else None
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DATABASE_URL", "REDIS_URL", "DEMO_", "PYTEST", "TESTING"))
    }
    env.update(
        DEMO_DIR=str(tmp_path / "demo"),
        DEMO_DATABASE=str(tmp_path / "demo.sqlite3"),
        DEMO_PORT=str(port),
        DEMO_SERVICE_PORT=str(services),
        DEMO_RECEIVER_PORT=str(receivers),
        DEMO_HISTORY="2h",
    )
    log_path = tmp_path / "make-demo.log"
    with log_path.open("wb") as log:
        demo = subprocess.Popen(
            ["make", "demo"], cwd=BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        try:
            wait_for(lambda: "simulating 20 services" in log_path.read_text(), 180, "the simulator")
            dashboard = requests.get(f"{url}/", timeout=5)
            assert 'href="/demo/inbox/"' in dashboard.text
            assert requests.get(f"{url}/demo/inbox/", timeout=5).status_code == 200
            health = requests.get(f"http://127.0.0.1:{services + 3}/health", timeout=5).json()
            assert health["status"] == "ok" and health["service"] == "ticket"
        finally:
            status = stop_group(demo, signal.SIGINT)
    output = log_path.read_text()
    assert status in (-signal.SIGINT, 2, 130), output  # make stops on the interrupt too
    assert "stopped:" in output and "refused by the ingest API" in output, output
    assert (tmp_path / "demo.sqlite3").stat().st_size > 0
    assert (own_database.stat().st_mtime if own_database.exists() else None) == before
    ports = [port, *range(services, services + 21), *range(receivers, receivers + 4)]
    wait_for(lambda: all(is_free(p) for p in ports), 15, "every port released")
