"""A chunked request body under a real gunicorn is read, or refused with 413; never taken as empty.

Raw sockets, because HTTP client libraries add a Content-Length whenever they can.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import PASSWORD

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

BASE_DIR = Path(__file__).resolve().parents[2]
LIMIT = 4096  # MAX_REQUEST_BYTES and METRICS_INGEST_MAX_BYTES of the server under test


@dataclass
class Server:
    port: int
    token: str
    database: Path

    def stored(self, name: str) -> list[float]:
        with sqlite3.connect(self.database) as db:
            rows = db.execute("SELECT value FROM metrics_app_series WHERE name = ?", [name])
            return [value for (value,) in rows]

    def request(self, path: str, chunks: list[bytes], **headers: str) -> tuple[int, dict]:
        """POST ``chunks`` with ``Transfer-Encoding: chunked``; the status and JSON body."""
        lines = [
            f"POST {path} HTTP/1.1",
            "Host: 127.0.0.1",
            "Content-Type: application/json",
            "Transfer-Encoding: chunked",
            "Connection: close",
            *(f"{name.replace('_', '-')}: {value}" for name, value in headers.items()),
        ]
        framed = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for chunk in chunks)
        with socket.create_connection(("127.0.0.1", self.port), timeout=20) as sock:
            sock.sendall("\r\n".join(lines).encode() + b"\r\n\r\n" + framed + b"0\r\n\r\n")
            received = _read_all(sock)
        head, _, body = received.partition(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        return status, json.loads(_unchunk(body) if b"chunked" in head.lower() else body)


def _read_all(sock: socket.socket) -> bytes:
    parts = []
    while chunk := sock.recv(65536):
        parts.append(chunk)
    return b"".join(parts)


def _unchunk(body: bytes) -> bytes:
    out, rest = b"", body
    while rest:
        size, _, rest = rest.partition(b"\r\n")
        length = int(size, 16)
        if length == 0:
            break
        out, rest = out + rest[:length], rest[length + 2 :]
    return out


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_until_listening(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, "gunicorn exited"
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    raise AssertionError("gunicorn did not start listening")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    var_dir = tmp_path_factory.mktemp("var")
    port = _free_port()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        "LANG": "C.UTF-8",
        "DJANGO_SETTINGS_MODULE": "monitoring_site.settings",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "JWT_SECRET": secrets.token_urlsafe(50),
        "VAR_DIR": str(var_dir),
        "ALLOWED_HOSTS": "127.0.0.1",
        "HTTPS": "false",  # plain HTTP on loopback, as bin/env.sh sets it for make run
        "MAX_REQUEST_BYTES": str(LIMIT),
        "METRICS_INGEST_MAX_BYTES": str(LIMIT),
        "METRICS_HOST_SAMPLING": "false",
        "DJANGO_SUPERUSER_PASSWORD": PASSWORD,
        "LOG_LEVEL": "WARNING",
    }
    manage = [sys.executable, "manage.py"]
    run = {"cwd": BASE_DIR, "env": env, "check": True, "timeout": 300}
    subprocess.run([*manage, "migrate", "--noinput", "-v0"], **run)  # type: ignore[call-overload]
    subprocess.run(  # type: ignore[call-overload]
        [*manage, "createsuperuser", "--noinput", "--username", "root", "--email", "r@x.io"], **run
    )
    token = subprocess.run(  # type: ignore[call-overload]
        [*manage, "create_ingest_token", "payment"], capture_output=True, text=True, **run
    ).stdout.strip()
    gunicorn = [str(BASE_DIR / ".venv/bin/gunicorn"), "-c", "monitoring_site/gunicorn.conf.py"]
    process = subprocess.Popen(
        [*gunicorn, "--bind", f"127.0.0.1:{port}", "--workers", "1", "monitoring_site.wsgi"],
        cwd=BASE_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        _wait_until_listening(port, process)
        yield Server(port=port, token=token, database=var_dir / "monitoring.sqlite3")
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def test_a_chunked_ingest_body_is_read_and_stored(server: Server) -> None:
    body = json.dumps({"samples": [{"metric": "tickets_sold_total", "value": 2}] * 3}).encode()
    thirds = [body[:20], body[20:50], body[50:]]
    status, answer = server.request(
        "/api/v1/metrics/ingest", thirds, Authorization=f"Bearer {server.token}"
    )
    assert (status, answer) == (202, {"accepted": 3})
    assert server.stored("tickets_sold_total") == [6.0]


def test_a_chunked_login_on_the_unauthenticated_token_endpoint_is_read(server: Server) -> None:
    body = json.dumps({"username": "root", "password": PASSWORD}).encode()
    status, answer = server.request("/api/auth/token", [body[:7], body[7:]])
    assert status == 200, answer
    assert set(answer) == {"access", "refresh"}


def test_a_chunked_body_over_the_limit_is_refused_with_413_and_nothing_is_stored(
    server: Server,
) -> None:
    sample = {"metric": "errors_total", "labels": {"type": "big"}, "value": 1}
    body = json.dumps({"samples": [sample] * 200}).encode()
    assert len(body) > LIMIT
    chunks = [body[i : i + 1000] for i in range(0, len(body), 1000)]
    status, answer = server.request(
        "/api/v1/metrics/ingest", chunks, Authorization=f"Bearer {server.token}"
    )
    assert status == 413
    assert answer == {
        "status": 413,
        "code": "payload_too_large",
        "message": f"The request body is larger than {LIMIT} bytes.",
    }
    small = json.dumps({"samples": [sample]}).encode()
    status, answer = server.request(
        "/api/v1/metrics/ingest", [small], Authorization=f"Bearer {server.token}"
    )
    assert (status, answer) == (202, {"accepted": 1})
    assert server.stored("errors_total") == [1.0]
