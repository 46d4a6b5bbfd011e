"""The end-to-end test's processes: started in sessions of their own, logged to files, stopped
with the signal each one expects, and whatever survives its grace period killed (by pid, the
whole tree each started process had)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil


@dataclass
class Started:
    name: str
    process: subprocess.Popen[bytes]
    log: Path
    stop_signal: int
    tree: dict[int, str] = field(default_factory=dict)  # pid -> command line, as last seen


class Processes:
    """Every process the test starts; ``stop_all`` ends them whatever happened before."""

    def __init__(self, *, cwd: Path, logs: Path, env: dict[str, str]) -> None:
        self.cwd = cwd
        self.logs = logs
        self.env = env
        self.started: dict[str, Started] = {}
        self.forced: list[str] = []  # what did not stop on its signal in time, and was killed

    def start(
        self, name: str, command: list[str], *, stop_signal: int = signal.SIGTERM
    ) -> subprocess.Popen[bytes]:
        log = self.logs / f"{name}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                command,
                cwd=self.cwd,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # its own process group: a signal reaches it alone
            )
        self.started[name] = Started(name, process, log, stop_signal)
        return process

    def run(self, name: str, command: list[str], timeout: float = 300) -> str:
        """A command run to its end (bootstrap, collectstatic); its output, or an error."""
        log = self.logs / f"{name}.log"
        result = subprocess.run(
            command, cwd=self.cwd, env=self.env, capture_output=True, text=True, timeout=timeout
        )
        log.write_text(result.stdout + result.stderr)
        if result.returncode != 0:
            raise AssertionError(f"{name} failed ({result.returncode}): {result.stderr[-3000:]}")
        return result.stdout

    def exited(self) -> list[str]:
        """The started processes that are no longer running (none should, before the end)."""
        return [
            f"{s.name} (status {s.process.returncode}): {self.tail(s.name, 1500)}"
            for s in self.started.values()
            if s.process.poll() is not None
        ]

    def tail(self, name: str, size: int = 4000) -> str:
        log = self.started[name].log if name in self.started else self.logs / f"{name}.log"
        try:
            return log.read_text(errors="replace")[-size:]
        except OSError:
            return ""

    def stop(self, name: str, grace: float = 40) -> int | None:
        """Signal one process (its group), wait ``grace`` seconds, then kill what is left."""
        started = self.started[name]
        self._remember_tree(started)
        if started.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(started.process.pid, started.stop_signal)
            try:
                started.process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                self.forced.append(name)
        self._kill_tree(started)
        with contextlib.suppress(subprocess.TimeoutExpired):
            started.process.wait(timeout=10)
        return started.process.returncode

    def stop_all(self, order: list[str]) -> list[str]:
        """Stop every process (``order`` first, then the rest); what is still alive after."""
        for name in [*order, *[n for n in self.started if n not in order]]:
            if name in self.started:
                self.stop(name)
        return self.leftovers()

    def leftovers(self, timeout: float = 10) -> list[str]:
        """Any process of any started tree still alive (zombies count as gone)."""
        deadline = time.monotonic() + timeout
        while True:
            alive = [
                f"{pid} {cmd}"
                for started in self.started.values()
                for pid, cmd in started.tree.items()
                if _alive(pid)
            ]
            if not alive or time.monotonic() > deadline:
                return alive
            time.sleep(0.3)

    def _remember_tree(self, started: Started) -> None:
        try:
            root = psutil.Process(started.process.pid)
            members = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return
        for member in members:
            with contextlib.suppress(psutil.Error):
                started.tree[member.pid] = " ".join(member.cmdline())[:200]

    def _kill_tree(self, started: Started) -> None:
        # Children a process started after the snapshot (a respawned worker) are found again.
        self._remember_tree(started)
        for pid in started.tree:
            if _alive(pid):
                if started.name not in self.forced:
                    self.forced.append(started.name)
                with contextlib.suppress(psutil.Error):
                    psutil.Process(pid).kill()


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
