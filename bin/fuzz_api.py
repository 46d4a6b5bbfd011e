"""Fuzz the API with schemathesis against a live gunicorn on a fresh PostgreSQL database.

Run through ``bin/fuzz-api``. Every step is bounded: the whole run (database, migrations, seed,
server start and both fuzz passes) stops at ``FUZZ_SECONDS`` (300 by default). The run fails on
any 5xx, any response that breaks its documented schema and any status the schema does not list.

Nothing the fuzzer does may reach beyond loopback: the server binds 127.0.0.1 on a socket this
script opened (port 0), every registered service target is rewritten to an unused loopback port,
the on-demand health round (the one endpoint that probes on the request path) is excluded, and no
notification channel is configured (the outbox is only written; no worker runs, so the workers'
own health entry is disabled: /health would otherwise answer 503 for that alone).

Settings (environment):
  FUZZ_DATABASE_URL   PostgreSQL URL of the throwaway database (dropped and created anew)
                      default postgres://postgres@127.0.0.1:5432/monitoring_fuzz
  FUZZ_REDIS_URL      Redis for the server's cache, throttles and broker (optional; its
                      database is flushed first: give the fuzzer a database of its own)
  FUZZ_SECONDS        the overall cap, in seconds (default 300)
  FUZZ_SEED           schemathesis' seed, for a reproducible run
  FUZZ_ARGS           extra arguments for ``st run`` (e.g. ``--exclude-path-regex ...``)
  FUZZ_REPORT_DIR     where the reports go (default var/fuzz)
"""

from __future__ import annotations

import json
import os
import secrets
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import psycopg
from psycopg import sql

BASE_DIR = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
DEFAULT_DATABASE = "postgres://postgres@127.0.0.1:5432/monitoring_fuzz"
CHECKS = "not_a_server_error,status_code_conformance,response_schema_conformance"
# Paths the fuzzer leaves alone: a health round probes the platform on the request path, and
# "sign out everywhere" would revoke the fuzzer's own token for the rest of the run.
EXCLUDED_PATHS = r"^/api/v1/monitoring/health/check/?$|^/api/auth/logout-all/?$"
ROLES = ("admin", "viewer")
PASSED_THROUGH = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "VIRTUAL_ENV")

SEED = """
import json, socket
from django.contrib.auth.models import Group, User
from rest_framework_simplejwt.tokens import RefreshToken
from health.models import Service
from health.services import update_service

def unused_loopback_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]

LOOPBACK = {
    "http": "http://127.0.0.1:{}",
    "solana_rpc": "http://127.0.0.1:{}",
    "tcp": "127.0.0.1:{}",
    "postgres": "postgres://fuzz@127.0.0.1:{}/fuzz",
    "redis": "redis://127.0.0.1:{}/0",
}
for service in Service.objects.exclude(kind=Service.Kind.MONITOR):
    service.target = LOOPBACK[service.kind].format(unused_loopback_port())
    service.save(update_fields=["target", "updated_at"])
# No worker runs beside the fuzzed server, so /health would answer 503 (workers dead) for that
# reason alone; the workers entry is not monitored here.
update_service(service=Service.objects.get(slug="monitor-workers"), changes={"enabled": False})

tokens = {}
for role in ROLES:
    user, _ = User.objects.get_or_create(username=f"fuzz-{role}")
    user.groups.add(Group.objects.get(name=role))
    tokens[role] = str(RefreshToken.for_user(user).access_token)
print(json.dumps(tokens))
"""


class Budget:
    """The overall deadline; each step asks for what is left."""

    def __init__(self, seconds: float) -> None:
        self.deadline = time.monotonic() + seconds

    def left(self) -> float:
        return max(0.0, self.deadline - time.monotonic())


def main() -> int:
    budget = Budget(float(os.environ.get("FUZZ_SECONDS", "300")))
    database_url = os.environ.get("FUZZ_DATABASE_URL", DEFAULT_DATABASE)
    report_dir = Path(os.environ.get("FUZZ_REPORT_DIR", BASE_DIR / "var" / "fuzz"))
    report_dir.mkdir(parents=True, exist_ok=True)
    env = server_env(database_url, report_dir)
    recreate_database(database_url)
    flush_redis()
    run_manage(env, budget, "migrate", "--noinput", "-v0")
    run_manage(env, budget, "bootstrap")
    tokens = seed(env, budget)
    with live_server(env) as base_url:
        wait_until_up(base_url, budget)
        failed = [role for role in ROLES if not fuzz(role, tokens[role], base_url, budget)]
    if failed:
        print(f"fuzz-api: failures with the {' and '.join(failed)} token(s)", file=sys.stderr)
        return 1
    print("fuzz-api: no 5xx, no schema violation, no undocumented status")
    return 0


def server_env(database_url: str, report_dir: Path) -> dict[str, str]:
    """A production-like environment (DEBUG off, real secrets) with throttles out of the way.

    Built from nothing but the few variables a process needs: no integration (SMTP, Slack,
    PagerDuty, InfluxDB, platform URLs) leaks in from the caller's environment.
    """
    env = {key: os.environ[key] for key in PASSED_THROUGH if key in os.environ}
    var_dir = report_dir / "var"
    multiproc = var_dir / "prometheus"
    multiproc.mkdir(parents=True, exist_ok=True)
    env.update(
        DJANGO_SETTINGS_MODULE="monitoring_site.settings",
        DEBUG="false",
        HTTPS="false",
        SECRET_KEY=secrets.token_urlsafe(50),
        JWT_SECRET=secrets.token_urlsafe(50),
        JWT_ACCESS_MINUTES="120",
        ALLOWED_HOSTS="127.0.0.1",
        SITE_URL="http://127.0.0.1",
        DATABASE_URL=database_url,
        VAR_DIR=str(var_dir),
        PROMETHEUS_MULTIPROC_DIR=str(multiproc),
        THROTTLE_ANON="100000/min",
        THROTTLE_USER="100000/min",
        THROTTLE_LOGIN="100000/min",
        THROTTLE_INGEST="100000/min",
        WEB_CONCURRENCY="2",
        LOG_LEVEL="WARNING",
        # Tasks the API enqueues (notification dispatch) wait for a cluster that never runs.
        WORKER_CLUSTER_NAME="fuzz-api",
    )
    if os.environ.get("FUZZ_REDIS_URL"):
        env["REDIS_URL"] = os.environ["FUZZ_REDIS_URL"]
    return env


def flush_redis() -> None:
    """The fuzzer's Redis database starts empty (throttle counters, cache, queued tasks)."""
    url = os.environ.get("FUZZ_REDIS_URL")
    if url:
        import redis

        redis.Redis.from_url(url, socket_connect_timeout=5).flushdb()


def recreate_database(database_url: str) -> None:
    parsed = urlparse(database_url)
    name = parsed.path.lstrip("/")
    if not name:
        raise SystemExit(f"FUZZ_DATABASE_URL has no database name: {database_url}")
    maintenance = urlunparse(parsed._replace(path="/postgres"))
    with closing(psycopg.connect(maintenance, autocommit=True, connect_timeout=5)) as connection:
        connection.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def run_manage(env: dict[str, str], budget: Budget, *args: str) -> str:
    command = [str(VENV_BIN / "python"), "manage.py", *args]
    done = subprocess.run(
        command, cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=budget.left()
    )
    if done.returncode != 0:
        sys.stderr.write(done.stdout + done.stderr)
        raise SystemExit(f"fuzz-api: manage.py {' '.join(args)} failed")
    return done.stdout


def seed(env: dict[str, str], budget: Budget) -> dict[str, str]:
    code = f"ROLES = {ROLES!r}\n{SEED}"
    output = run_manage(env, budget, "shell", "-c", code)
    return json.loads(output.strip().splitlines()[-1])


@contextmanager
def live_server(env: dict[str, str]) -> Iterator[str]:
    """gunicorn on a loopback socket opened here (port 0: no collision, no race)."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    port = listener.getsockname()[1]
    fd = listener.fileno()
    log = (Path(env["VAR_DIR"]) / "gunicorn.log").open("w")
    command = [
        str(VENV_BIN / "gunicorn"),
        "-c",
        "monitoring_site/gunicorn.conf.py",
        "--bind",
        f"fd://{fd}",
        "monitoring_site.wsgi:application",
    ]
    server = subprocess.Popen(
        command, cwd=BASE_DIR, env=env, pass_fds=(fd,), stdout=log, stderr=subprocess.STDOUT
    )
    listener.close()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


def wait_until_up(base_url: str, budget: Budget) -> None:
    until = time.monotonic() + min(60.0, budget.left())
    while time.monotonic() < until:
        try:
            # An http URL this script built; S310 guards against file: and custom schemes.
            with urllib.request.urlopen(base_url + "/status", timeout=2) as response:  # noqa: S310
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            time.sleep(0.2)
    raise SystemExit("fuzz-api: the server did not answer /status in time")


def fuzz(role: str, token: str, base_url: str, budget: Budget) -> bool:
    """One schemathesis pass with ``role``'s token, given its share of the time left."""
    passes_left = len(ROLES) - ROLES.index(role)
    seconds = int(budget.left() / passes_left) - 5
    if seconds < 10:
        print(f"fuzz-api: no time left for the {role} pass", file=sys.stderr)
        return False
    report_dir = Path(os.environ.get("FUZZ_REPORT_DIR", BASE_DIR / "var" / "fuzz"))
    command = [
        str(VENV_BIN / "st"),
        "run",
        f"{base_url}/api/schema/",
        "--url",
        base_url,
        "--header",
        f"Authorization: Bearer {token}",
        "--checks",
        CHECKS,
        "--exclude-path-regex",
        EXCLUDED_PATHS,
        "--max-time",
        str(seconds),
        # One worker: Python 3.11 before 3.11.8 races on ast.parse across threads (gh-106905),
        # which hypothesis calls while generating, and the run then ends in a runtime error.
        "--workers",
        "1",
        "--request-timeout",
        "30",
        "--generation-database",
        "none",
        "--report",
        "junit",
        "--report-junit-path",
        str(report_dir / f"junit-{role}.xml"),
        "--no-color",
        *(["--seed", os.environ["FUZZ_SEED"]] if os.environ.get("FUZZ_SEED") else []),
        *shlex.split(os.environ.get("FUZZ_ARGS", "")),
    ]
    print(f"\n--- schemathesis with the {role} token, {seconds} s", flush=True)
    try:
        # schemathesis keeps a crash cache (.schemathesis/) in its working directory.
        done = subprocess.run(command, cwd=report_dir, timeout=seconds + 30)
    except subprocess.TimeoutExpired:
        print(f"fuzz-api: the {role} pass overran its time", file=sys.stderr)
        return False
    return done.returncode == 0


if __name__ == "__main__":
    sys.exit(main())
