"""Real time-series servers from Debian's packages, started on 127.0.0.1 for one test or module.

    with Prometheus(tmp_path) as prom:              # --web.enable-remote-write-receiver
        prom.remote_write_url                       # POST remote write 1.0 bodies here
        prom.query("up")                            # /api/v1/query, the parsed "data"
    with VictoriaMetrics(tmp_path) as vm: ...       # the same interface
    Prometheus(tmp_path, config=yaml, files={"rules.yml": ...}, args=("--flag",))

Each picks a free port, waits until the server answers its readiness endpoint, and is stopped
(terminated, then killed) on exit. A test needing a server that is not installed is skipped with
the package to install (``make system-deps`` installs both).
"""

from __future__ import annotations

import json
import socket
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

import requests

from metrics_app.remote_write import HEADERS, RemoteSample, encode_samples
from tests.support.components import require_binary

START_TIMEOUT = 30.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class TimeSeriesServer:
    """A server process with the Prometheus HTTP query API."""

    binary = ""
    package = ""
    ready_path = "/"
    write_path = "/api/v1/write"

    def __init__(
        self,
        directory: Path,
        *,
        config: str | None = None,
        files: dict[str, str] | None = None,
        args: tuple[str, ...] = (),
    ) -> None:
        self.directory = Path(directory) / self.binary
        self.directory.mkdir(parents=True, exist_ok=True)
        self.config = config
        self.args = args
        for name, text in (files or {}).items():  # rule files beside the configuration
            (self.directory / name).write_text(text)
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = self.directory / "server.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def remote_write_url(self) -> str:
        return self.url + self.write_path

    def command(self) -> list[str]:
        raise NotImplementedError

    def __enter__(self) -> Self:
        require_binary(self.binary)  # skips locally, fails under CI (which installs it)
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                self.command(), stdout=log, stderr=subprocess.STDOUT, cwd=self.directory
            )
        self._wait_ready()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)

    def _wait_ready(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.binary} exited: {self.log()[-2000:]}")
            try:
                if requests.get(self.url + self.ready_path, timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{self.binary} not ready in {START_TIMEOUT} s: {self.log()[-2000:]}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def query(self, expression: str, *, at: float | None = None) -> Any:
        params: dict[str, Any] = {"query": expression}
        if at is not None:
            params["time"] = at
        response = requests.get(self.url + "/api/v1/query", params=params, timeout=10)
        response.raise_for_status()
        return response.json()["data"]

    def wait_for(self, expression: str, *, timeout: float = 20.0) -> list[dict[str, Any]]:
        """The instant vector of ``expression`` once it is not empty (ingestion is asynchronous)."""
        deadline = time.monotonic() + timeout
        while True:
            result = self.query(expression)["result"]
            if result or time.monotonic() > deadline:
                return list(result)
            time.sleep(0.25)


class Prometheus(TimeSeriesServer):
    binary = "prometheus"
    package = "prometheus"
    ready_path = "/-/ready"

    def command(self) -> list[str]:
        config = self.directory / "prometheus.yml"
        config.write_text(self.config or "global:\n  evaluation_interval: 1s\n")
        return [
            self.binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={self.directory / 'data'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            "--web.enable-remote-write-receiver",
            "--log.level=warn",
            *self.args,
        ]


class VictoriaMetrics(TimeSeriesServer):
    binary = "victoria-metrics"
    package = "victoria-metrics"
    ready_path = "/health"

    def command(self) -> list[str]:
        return [
            self.binary,
            f"-storageDataPath={self.directory / 'data'}",
            f"-httpListenAddr=127.0.0.1:{self.port}",
            "-retentionPeriod=1",
            # Queries see samples at once, not 30 s later (the default protects against gaps
            # from late writers; tests write and read back immediately).
            "-search.latencyOffset=0s",
            "-search.disableCache",
            "-loggerLevel=WARN",
            *self.args,
        ]


# --- loading history (the metrics-backend tests, issue #20) ---------------------------------------


@dataclass
class RemoteSeries:
    """One series as a time-series database stores it: cumulative values at Unix milliseconds."""

    name: str
    labels: dict[str, str]
    points: list[tuple[int, float]]


def load(server: TimeSeriesServer, series: Sequence[RemoteSeries]) -> None:
    """Write ``series`` the way each server takes history: remote write, or VictoriaMetrics'
    ``/api/v1/import`` (JSON lines), then wait until the last sample is queryable."""
    if isinstance(server, VictoriaMetrics):
        lines = "\n".join(
            json.dumps(
                {
                    "metric": {"__name__": item.name, **item.labels},
                    "values": [value for _, value in item.points],
                    "timestamps": [stamp for stamp, _ in item.points],
                }
            )
            for item in series
        )
        response = requests.post(server.url + "/api/v1/import", data=lines.encode(), timeout=30)
        assert response.status_code == 204, response.text
        requests.get(server.url + "/internal/force_flush", timeout=30).raise_for_status()
    else:
        body = encode_samples(
            RemoteSample(item.name, item.labels, value, stamp)
            for item in series
            for stamp, value in item.points
        )
        response = requests.post(server.remote_write_url, data=body, headers=HEADERS, timeout=30)
        assert response.status_code == 204, response.text
    last = max(series, key=lambda item: item.points[-1][0])
    selector = "{" + ",".join(f'{k}="{v}"' for k, v in last.labels.items()) + "}"
    assert server.wait_for(f"{last.name}{selector}"), f"{server.binary} did not take the samples"
