"""gunicorn settings: where to listen, a control socket of its own, Prometheus bookkeeping.

Values come from the environment through the same readers as the Django settings, so a bad
``WEB_CONCURRENCY`` or ``BIND`` stops start-up with a message naming it.
"""

from __future__ import annotations

import gc
import os
import re
import shutil
from pathlib import Path
from typing import Any

from django.core.exceptions import ImproperlyConfigured

from monitoring_site.env import env_int, env_list, env_str
from monitoring_site.envfile import load_env_file

load_env_file()  # the same .env as the Django settings, read before BIND and PORT

_ADDRESS = re.compile(r"^(?P<host>\[[0-9A-Fa-f:.]+\]|[^:\[\]\s]+)(?::(?P<port>[0-9]{1,5}))?\Z")


def _bind(items: list[str], port: int) -> list[str]:
    """``host``, ``host:port``, ``[v6]``, ``[v6]:port`` or ``unix:/path``; a host alone: PORT."""
    addresses = []
    for item in items:
        match = _ADDRESS.match(item)
        if item.startswith("unix:"):
            if not item[len("unix:") :].strip():
                raise ImproperlyConfigured(f"BIND={item!r}: unix: needs a socket path")
            addresses.append(item)
        elif match is None or not 0 < int(match["port"] or port) <= 65535:
            raise ImproperlyConfigured(
                f"BIND={item!r}: expected host, host:port, [ipv6]:port or unix:/path "
                "(comma-separated for several)"
            )
        else:
            addresses.append(f"{match['host']}:{match['port'] or port}")
    return addresses


# Loopback unless BIND says otherwise: a development machine serves nobody else by accident.
# The Docker image sets BIND=0.0.0.0 (its port is published, the container is the boundary).
bind = _bind(env_list("BIND", ["127.0.0.1"]), env_int("PORT", 3017, minimum=1, maximum=65535))
workers = env_int("WEB_CONCURRENCY", 2, minimum=1, maximum=64)
threads = env_int("WEB_THREADS", 1, minimum=1, maximum=64)
timeout = env_int("WEB_TIMEOUT", 60, minimum=1)
graceful_timeout = 10
accesslog = "-"
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms'
# gunicorn would believe X-Forwarded-Proto from these peers on its own; like Django's
# SECURE_PROXY_SSL_HEADER, only when TRUSTED_PROXIES says a proxy is in front.
forwarded_allow_ips = env_str(
    "FORWARDED_ALLOW_IPS",
    "*" if env_int("TRUSTED_PROXIES", 0, minimum=0, maximum=10) > 0 else "",
)
# gunicorn's default control socket (~/.gunicorn/gunicorn.ctl) is one per user: a second
# instance takes it over and removes it when it stops. Each instance keeps its own beside its
# data: `.venv/bin/gunicornc -s var/gunicorn.ctl`.
_VAR_DIR = Path(env_str("VAR_DIR", str(Path(__file__).resolve().parents[1] / "var")))
control_socket = str(_VAR_DIR / "gunicorn.ctl")
# Heartbeat files in memory, not on a possibly slow disk.
worker_tmp_dir = "/dev/shm" if Path("/dev/shm").is_dir() else None  # noqa: S108


def on_starting(server: Any) -> None:
    # Stale files of a previous run would add dead workers' counters to the new ones.
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        shutil.rmtree(directory, ignore_errors=True)
        Path(directory).mkdir(parents=True, exist_ok=True)


def child_exit(server: Any, worker: Any) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Loaded only in multiprocess mode; gunicorn reads this file before Django starts.
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)


def post_worker_init(worker: Any) -> None:
    # Django, its apps and the URL and template caches are loaded now and live as long as the
    # worker: moved out of the collector's generations, they are no longer walked by every full
    # collection that a request's allocations set off. And a collection only every 20,000 net
    # allocations instead of 700: a request's objects are freed by reference counting when it
    # ends, but at 700 the ~30,000 of an ingest batch set off nine collections while still alive
    # (bench/ingest.py: 168 ms of collection in 120 requests before, 11 ms after). Cyclic
    # garbage is still collected, a little later.
    gc.freeze()
    gc.set_threshold(20_000, 10, 10)
