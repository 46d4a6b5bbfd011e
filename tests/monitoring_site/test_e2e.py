"""The real processes, started as `make run` starts them: gunicorn and qcluster on SQLite."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import pytest
import requests
from django.conf import settings

pytestmark = pytest.mark.e2e

BASE_DIR = Path(settings.BASE_DIR)
ADMIN = ("e2e-admin", "an e2e password that is long enough")


# Run the command with SIGINT and SIGQUIT at their defaults and nothing blocked, as a terminal
# job starts: a suite launched by nohup or as a background job has them ignored, children inherit
# that, and bash cannot trap a signal ignored at its entry. Exec keeps the reset (unlike
# preexec_fn, this is safe while the test process runs threads).
DEFAULT_SIGNALS = (
    "import os, signal, sys;"
    "[signal.signal(s, signal.SIG_DFL) for s in (signal.SIGINT, signal.SIGQUIT)];"
    "signal.pthread_sigmask(signal.SIG_SETMASK, []);"
    "os.execvp(sys.argv[1], sys.argv[1:])"
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stack_env(var_dir: Path, port: int) -> dict[str, str]:
    """What a newcomer's shell has: nothing of the test run's DATABASE_URL, REDIS_URL, secrets."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        "LANG": "C.UTF-8",
        "VAR_DIR": str(var_dir),
        "ENV_FILE": str(var_dir / ".env"),  # where bin/prepare writes secrets, not the checkout's
        "PORT": str(port),
        "HTTPS": "false",
        "WEB_CONCURRENCY": "1",
        "Q_WORKERS": "1",
        "DJANGO_SUPERUSER_USERNAME": ADMIN[0],
        "DJANGO_SUPERUSER_PASSWORD": ADMIN[1],
        "DJANGO_SUPERUSER_EMAIL": "e2e@example.com",
    }


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A VAR_DIR after bin/prepare: migrated, bootstrapped, static files collected."""
    var_dir = tmp_path_factory.mktemp("e2e-var")
    result = subprocess.run(
        ["bin/prepare"],
        cwd=BASE_DIR,
        env=stack_env(var_dir, free_port()),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "superuser e2e-admin created" in result.stdout
    env_file = (var_dir / ".env").read_text()
    assert "SECRET_KEY=" in env_file and "JWT_SECRET=" in env_file
    assert (var_dir / ".env").stat().st_mode & 0o077 == 0
    assert (var_dir / "staticfiles" / "staticfiles.json").exists()
    return var_dir


@dataclass
class Stack:
    var_dir: Path
    port: int
    env: dict[str, str]
    processes: list[subprocess.Popen] = field(default_factory=list)
    logs: list[Path] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, *command: str) -> subprocess.Popen:
        log = self.var_dir / f"{Path(command[0]).name}-{self.port}.log"
        self.logs.append(log)
        process = subprocess.Popen(
            [sys.executable, "-c", DEFAULT_SIGNALS, *command],
            cwd=BASE_DIR,
            env=self.env,
            stdout=log.open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, as a terminal job would have
        )
        self.processes.append(process)
        return process

    def output(self) -> str:
        return "\n".join(f"--- {log.name}\n{log.read_text()[-3000:]}" for log in self.logs)

    def wait_for_status(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for process in self.processes:
                assert process.poll() is None, f"exited early\n{self.output()}"
            try:
                if requests.get(f"{self.url}/status", timeout=5).status_code == 200:
                    return
            except requests.RequestException:  # not listening yet, or still booting
                pass
            time.sleep(0.3)
        raise AssertionError(f"/status never answered\n{self.output()}")

    def descendants(self) -> list[psutil.Process]:
        found = []
        for process in self.processes:
            try:
                parent = psutil.Process(process.pid)
                found.extend([parent, *parent.children(recursive=True)])
            except psutil.NoSuchProcess:
                pass
        return found

    def terminate(self, timeout: float = 40) -> None:
        for process in self.processes:
            try:
                os.killpg(process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for process in self.processes:
            process.wait(timeout=timeout)

    def kill_everything(self) -> None:
        for proc in self.descendants():
            try:
                proc.kill()
            except psutil.NoSuchProcess:
                pass
        for process in self.processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass


def still_running(processes: list[psutil.Process], timeout: float = 15) -> list[str]:
    """The processes that have not gone within ``timeout`` (zombies count as gone)."""
    deadline = time.monotonic() + timeout
    while True:
        alive = []
        for proc in processes:
            try:
                if proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE:
                    alive.append(f"{proc.pid} {' '.join(proc.cmdline())}")
            except psutil.NoSuchProcess:
                pass
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.3)


def port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


@pytest.fixture
def stack(prepared: Path) -> Iterator[Stack]:
    port = free_port()
    stack = Stack(var_dir=prepared, port=port, env=stack_env(prepared, port))
    yield stack
    stack.kill_everything()  # whatever a failed test left behind


def enqueue_cleanup(stack: Stack) -> None:
    """Hand the worker a task through the broker (the ORM broker: a row in the SQLite file)."""
    code = (
        "from django_q.tasks import async_task;"
        "async_task('monitoring_site.jobs.run_job', 'site.cleanup', task_name='e2e-cleanup')"
    )
    result = subprocess.run(
        ["bash", "-c", f'source bin/env.sh && .venv/bin/python manage.py shell -c "{code}"'],
        cwd=BASE_DIR,
        env=stack.env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]


def poll(check: Callable[[], Any], timeout: float, what: str, stack: Stack) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"{what} did not happen within {timeout}s\n{stack.output()}")


def token(stack: Stack) -> str:
    response = requests.post(
        f"{stack.url}/api/auth/token/",
        json={"username": ADMIN[0], "password": ADMIN[1]},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return response.json()["access"]


def job_runs(stack: Stack, access: str, **params: str) -> list[dict[str, Any]]:
    response = requests.get(
        f"{stack.url}/api/v1/monitoring/jobs/runs",
        params=params,
        headers={"Authorization": f"Bearer {access}"},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return response.json()["results"]


def ignored_signals(pid: int) -> int:
    """The kernel's mask of signals the process ignores (``SigIgn`` in /proc/<pid>/status)."""
    status = Path(f"/proc/{pid}/status").read_text()
    return int(
        next(line for line in status.splitlines() if line.startswith("SigIgn:")).split()[1], 16
    )


def test_processes_start_with_ctrl_c_at_its_default_even_when_the_suite_ignores_it(
    tmp_path: Path,
) -> None:
    stack = Stack(var_dir=tmp_path, port=0, env=stack_env(tmp_path, 0))
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)  # as under nohup or `pytest &`
    try:
        child = stack.start("sleep", "30")
    finally:
        signal.signal(signal.SIGINT, previous)
    try:
        poll(lambda: psutil.Process(child.pid).name() == "sleep", 10, "the exec", stack)
        mask = ignored_signals(child.pid)
        assert mask & (1 << (signal.SIGINT - 1)) == 0
        assert mask & (1 << (signal.SIGQUIT - 1)) == 0
    finally:
        stack.kill_everything()


def test_the_web_server_and_worker_serve_and_stop_cleanly(stack: Stack) -> None:
    stack.start("bin/web")
    stack.start("bin/worker")
    stack.wait_for_status()

    status = requests.get(f"{stack.url}/status", timeout=5).json()
    assert status["status"] == "ok"
    gunicorn = psutil.Process(stack.processes[0].pid)  # bin/web execs gunicorn
    listening = {c.laddr for c in gunicorn.net_connections("inet") if c.status == "LISTEN"}
    assert listening == {("127.0.0.1", stack.port)}  # loopback unless BIND says otherwise
    assert (stack.var_dir / "gunicorn.ctl").is_socket()  # its own control socket

    docs = requests.get(f"{stack.url}/api/docs/", timeout=5)
    assert docs.status_code == 200
    init = requests.get(f"{stack.url}/api/docs/?script=", timeout=5)  # no inline script (CSP)
    assert "SwaggerUIBundle" in init.text
    assert "script-src 'self'" in docs.headers["Content-Security-Policy"]
    bundle = next(part for part in docs.text.split('"') if "swagger-ui-bundle" in part)
    assert bundle.startswith("/static/")
    assert requests.get(f"{stack.url}{bundle}", timeout=5).status_code == 200

    login = requests.get(f"{stack.url}/admin/login/", timeout=5)
    assert login.status_code == 200
    assert "csrfmiddlewaretoken" in login.text

    access = token(stack)
    me = requests.get(
        f"{stack.url}/api/auth/me", headers={"Authorization": f"Bearer {access}"}, timeout=5
    )
    assert me.json() == {"username": ADMIN[0], "role": "admin", "is_superuser": True}

    enqueue_cleanup(stack)
    runs = poll(
        lambda: [
            r for r in job_runs(stack, access, job="site.cleanup") if r["outcome"] == "success"
        ],
        timeout=60,
        what="the worker running the enqueued cleanup",
        stack=stack,
    )
    assert runs[0]["pid"] not in {p.pid for p in stack.processes}  # a worker child ran it

    everything = stack.descendants()
    assert len(everything) >= 4  # gunicorn master + worker, qcluster + its children
    stack.terminate()
    assert still_running(everything) == []
    assert port_is_free(stack.port)
    assert [process.returncode for process in stack.processes] == [0, 0], stack.output()


@pytest.mark.slow
def test_the_worker_runs_installed_schedules_through_the_wrapper(stack: Stack) -> None:
    stack.start("bin/web")
    stack.start("bin/worker")
    stack.wait_for_status()
    access = token(stack)
    # bootstrap installed every minute job due on the next minute; the scheduler wakes every 30 s.
    runs = poll(
        lambda: [r for r in job_runs(stack, access) if r["job"] != "site.cleanup"],
        timeout=120,
        what="a scheduled job run",
        stack=stack,
    )
    assert runs[0]["outcome"] in {"running", "success", "failure"}
    everything = stack.descendants()
    stack.terminate()
    assert still_running(everything) == []


def _bin_run(stack: Stack) -> tuple[subprocess.Popen, psutil.Process, psutil.Process]:
    """Start bin/run; return it, its gunicorn master and its qcluster process."""
    run = stack.start("bin/run")
    stack.wait_for_status(timeout=180)

    def find(word: str) -> psutil.Process | None:
        for child in psutil.Process(run.pid).children(recursive=True):
            try:
                if any(word in part for part in child.cmdline()):
                    return child
            except psutil.NoSuchProcess:
                pass
        return None

    web = poll(lambda: find("gunicorn"), 30, "gunicorn under bin/run", stack)
    worker = poll(lambda: find("qcluster"), 30, "qcluster under bin/run", stack)
    # The outermost of each: the master, not a forked child.
    while web.parent() and "gunicorn" in " ".join(web.parent().cmdline()):
        web = web.parent()
    while worker.parent() and "qcluster" in " ".join(worker.parent().cmdline()):
        worker = worker.parent()
    return run, web, worker


@pytest.mark.slow
def test_bin_run_stops_the_web_server_and_fails_when_the_worker_dies(stack: Stack) -> None:
    run, web, worker = _bin_run(stack)
    everything = stack.descendants()
    worker.kill()
    assert run.wait(timeout=60) != 0, stack.output()
    assert "stopping the other" in stack.output()
    assert not web.is_running() or web.status() == psutil.STATUS_ZOMBIE
    assert still_running(everything) == []
    assert port_is_free(stack.port)


@pytest.mark.slow
def test_ctrl_c_on_bin_run_stops_both_processes(stack: Stack) -> None:
    run, _, _ = _bin_run(stack)
    everything = stack.descendants()
    os.killpg(run.pid, signal.SIGINT)  # what the terminal sends to the foreground job
    assert run.wait(timeout=60) == 130, stack.output()
    assert still_running(everything) == []
    assert port_is_free(stack.port)


@pytest.mark.slow
def test_sigterm_to_bin_run_alone_stops_both_processes(stack: Stack) -> None:
    run, _, _ = _bin_run(stack)
    everything = stack.descendants()
    run.send_signal(signal.SIGTERM)  # what a supervisor sends to the main process
    assert run.wait(timeout=60) == 143, stack.output()
    assert still_running(everything) == []
    assert port_is_free(stack.port)


def manage_shell(stack: Stack, code: str) -> None:
    result = subprocess.run(
        ["bash", "-c", f'source bin/env.sh && .venv/bin/python manage.py shell -c "{code}"'],
        cwd=BASE_DIR,
        env=stack.env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]


@pytest.mark.slow
def test_health_turns_unhealthy_503_when_the_worker_cluster_stops(stack: Stack) -> None:
    """Issue #14, item 3: an outside probe of /health sees a dead cluster (real qcluster)."""
    stack.env["HEALTH_WORKER_STALE_SECONDS"] = "40"
    # Only the monitor's own dependencies are watched: the platform is not running here.
    manage_shell(
        stack,
        "from health.models import Service; "
        "Service.objects.exclude(kind='monitor').update(enabled=False)",
    )
    stack.start("bin/web")
    worker = stack.start("bin/worker")
    stack.wait_for_status()

    def health() -> tuple[int, dict[str, Any]]:
        response = requests.get(f"{stack.url}/health", timeout=10)
        return response.status_code, response.json()

    def answered(status: int, workers: str) -> Any:
        code, body = health()
        return (
            body if (code, body["dependencies"]["workers"]["status"]) == (status, workers) else None
        )

    running = poll(lambda: answered(200, "up"), 150, "/health 200 with the workers up", stack)
    assert running["status"] in {"healthy", "degraded"}
    os.killpg(worker.pid, signal.SIGTERM)
    worker.wait(timeout=40)
    stopped = poll(lambda: answered(503, "down"), 120, "/health 503 after the stop", stack)
    assert stopped["status"] == "unhealthy"
    stack.terminate()
