"""Real time-series databases on 127.0.0.1 for the metrics-backend tests (issue #20).

Debian's ``prometheus`` (with ``--web.enable-remote-write-receiver``) and ``victoria-metrics``,
each started on a free port with its storage in a temporary directory, stopped (and its files
removed) when the ``with`` block ends. Samples reach them the way production sends them:
Prometheus by remote write (protobuf + snappy), VictoriaMetrics by its ``/api/v1/import``.

Both refuse samples far in the past, so callers shift their timestamps to now.
"""

from __future__ import annotations

import json
import shutil
import socket
import struct
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Self

import cramjam
import httpx

PROMETHEUS = "/usr/bin/prometheus"
VICTORIA_METRICS = "/usr/bin/victoria-metrics"
START_TIMEOUT = 30.0


@dataclass
class RemoteSeries:
    """One series as a time-series database stores it: cumulative values at Unix milliseconds."""

    name: str
    labels: dict[str, str]
    points: list[tuple[int, float]]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _Server:
    """A database process on a free port; subclasses say how to start and probe it."""

    ready_path = "/"

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.dir = Path(tempfile.mkdtemp(prefix=f"{type(self).__name__.lower()}-"))
        self.process: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        raise NotImplementedError

    def __enter__(self) -> Self:
        log = (self.dir / "server.log").open("wb")
        self.process = subprocess.Popen(
            self.command(), stdout=log, stderr=subprocess.STDOUT, cwd=self.dir
        )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                if httpx.get(self.url + self.ready_path, timeout=1.0).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        output = (self.dir / "server.log").read_text(errors="replace")[-2000:]
        self.__exit__(None, None, None)
        raise RuntimeError(f"{type(self).__name__} did not start: {output}")

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        shutil.rmtree(self.dir, ignore_errors=True)

    def load(self, series: Sequence[RemoteSeries]) -> None:
        raise NotImplementedError


class PrometheusServer(_Server):
    """Prometheus with the remote-write receiver, scraping nothing."""

    ready_path = "/-/ready"

    def command(self) -> list[str]:
        config = self.dir / "prometheus.yml"
        config.write_text("global:\n  scrape_interval: 15s\n")
        return [
            PROMETHEUS,
            f"--config.file={config}",
            f"--storage.tsdb.path={self.dir / 'data'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            "--web.enable-remote-write-receiver",
            "--log.level=warn",
        ]

    def load(self, series: Sequence[RemoteSeries]) -> None:
        body = cramjam.snappy.compress_raw(write_request(series))
        response = httpx.post(
            self.url + "/api/v1/write",
            content=bytes(body),
            headers={
                "Content-Encoding": "snappy",
                "Content-Type": "application/x-protobuf",
                "X-Prometheus-Remote-Write-Version": "0.1.0",
            },
            timeout=30.0,
        )
        assert response.status_code == 204, response.text


class VictoriaMetricsServer(_Server):
    """Single-node VictoriaMetrics; queries see samples at once (no latency offset, no cache)."""

    ready_path = "/health"

    def command(self) -> list[str]:
        return [
            VICTORIA_METRICS,
            f"-storageDataPath={self.dir / 'data'}",
            f"-httpListenAddr=127.0.0.1:{self.port}",
            "-search.latencyOffset=0s",
            "-search.disableCache",
            "-loggerLevel=WARN",
        ]

    def load(self, series: Sequence[RemoteSeries]) -> None:
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
        response = httpx.post(self.url + "/api/v1/import", content=lines.encode(), timeout=30.0)
        assert response.status_code == 204, response.text
        httpx.get(self.url + "/internal/force_flush", timeout=30.0).raise_for_status()


# --- remote write, protobuf by hand (prometheus/prompb: WriteRequest) ----------------------------
# WriteRequest { repeated TimeSeries timeseries = 1; }
# TimeSeries { repeated Label labels = 1; repeated Sample samples = 2; }
# Label { string name = 1; string value = 2; }   Sample { double value = 1; int64 timestamp = 2; }


def _varint(number: int) -> bytes:
    out = bytearray()
    while True:
        byte = number & 0x7F
        number >>= 7
        if number:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _sample(value: float, stamp: int) -> bytes:
    return b"\x09" + struct.pack("<d", value) + b"\x10" + _varint(stamp & (2**64 - 1))


def write_request(series: Sequence[RemoteSeries]) -> bytes:
    """A serialized ``prometheus.WriteRequest`` (labels sorted by name, as the spec asks)."""
    out = bytearray()
    for item in series:
        labels = sorted({"__name__": item.name, **item.labels}.items())
        body = b"".join(
            _field(1, _field(1, name.encode()) + _field(2, value.encode()))
            for name, value in labels
        )
        body += b"".join(_field(2, _sample(value, stamp)) for stamp, value in item.points)
        out += _field(1, body)
    return bytes(out)
