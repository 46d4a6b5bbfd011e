"""Helpers of the demo's process tests: free ports, an environment of its own, waiting."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import requests

BASE_DIR = Path(__file__).resolve().parents[2]
_T = TypeVar("_T")


def free_block(size: int) -> int:
    """The first of ``size`` consecutive free ports on 127.0.0.1."""
    for _ in range(100):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            base = int(probe.getsockname()[1])
        if base + size < 65535 and all(is_free(base + i) for i in range(size)):
            return base
    raise AssertionError(f"no {size} free ports in a row")


def is_free(port: int) -> bool:
    """Nothing listens on ``port`` (connections in TIME_WAIT, as after a stop, do not count)."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def base_env(var_dir: Path) -> dict[str, str]:
    """A clean environment: nothing from the checkout's .env or the caller's integrations."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        "LANG": "C.UTF-8",
        "PYTHON_DOTENV_DISABLED": "1",
        "DJANGO_SETTINGS_MODULE": "monitoring_site.settings",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "JWT_SECRET": secrets.token_urlsafe(50),
        "VAR_DIR": str(var_dir),
        "PROMETHEUS_MULTIPROC_DIR": str(var_dir / "multiproc"),
        "METRICS_HOST_SAMPLING": "false",
    }


def wait_for(check: Callable[[], _T | None], timeout: float, what: str) -> _T:
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
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}; last: {last!r}")


def stop_group(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> int:
    """Signal the process group; wait; kill it if it does not stop. The exit status."""
    if process.poll() is None:
        os.killpg(process.pid, sig)
        try:
            return process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)
            raise AssertionError("the process group did not stop within 30 s") from None
    return int(process.returncode)
