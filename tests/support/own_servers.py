"""PostgreSQL and Redis servers a test starts and stops itself: free ports, temporary directories.

The fault tests stop these servers under running gunicorn and qcluster processes; the shared
servers of the suite are never touched. ``initdb`` refuses to run as root, so as root the
PostgreSQL commands run as the ``postgres`` user (``runuser``), which must own the data directory.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from tests.support.components import require_binary


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _wait(port: int, *, up: bool, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while _accepts(port) != up:
        if time.monotonic() > deadline:
            raise AssertionError(f"port {port} still {'closed' if up else 'open'} after {timeout}s")
        time.sleep(0.1)


class OwnPostgres:
    """``initdb`` in a temporary directory, then ``pg_ctl start``/``stop`` on a free port (trust
    auth). The directory is made under the system's temporary directory, which the ``postgres``
    user can reach (pytest's own ``tmp_path`` is private to root); ``remove()`` deletes it."""

    def __init__(self) -> None:
        directory = Path(tempfile.mkdtemp(prefix="own-postgres-"))
        self.directory = directory
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
        binaries = Path(found[-1]).parent if found else None
        pg_ctl = require_binary("pg_ctl", str(binaries / "pg_ctl") if binaries else None)
        self.bin = Path(pg_ctl).parent
        self.data = directory / "data"
        self.sockets = directory / "sockets"
        self.port = free_port()
        self.as_root = os.geteuid() == 0
        for path in (directory, self.sockets):
            path.mkdir(parents=True, exist_ok=True)
            if self.as_root:
                shutil.chown(path, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8")

    def _run(self, tool: str, *args: str) -> None:
        command = [str(self.bin / tool), *args]
        if self.as_root:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/monitoring"

    def start(self) -> None:
        options = f"-p {self.port} -k {self.sockets} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.data / "log"),
            "-w",
            "start",
        )
        _wait(self.port, up=True)

    def create_database(self) -> None:
        command = [
            str(self.bin.parent / "bin" / "createdb"),
            "-h",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-U",
            "postgres",
            "monitoring",
        ]
        if self.as_root:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=60)

    def running(self) -> bool:
        return _accepts(self.port)

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")
        _wait(self.port, up=False)

    def remove(self) -> None:
        """Stop the server if it runs, and delete its directory."""
        if self.running():
            self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)


class OwnRedis:
    """``redis-server`` on a free port, no persistence; stop and start it again at will."""

    def __init__(self, directory: Path) -> None:
        self.binary = require_binary("redis-server")
        self.directory = directory
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait(self.port, up=True)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=15)
        self.process = None
        _wait(self.port, up=False)
