"""gunicorn settings: bind to $PORT, Prometheus multiprocess bookkeeping for request metrics.

Values come from the environment through the same readers as the Django settings, so a bad
``WEB_CONCURRENCY`` stops start-up with a message naming it.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from monitoring_site.env import env_int, env_str

bind = f"0.0.0.0:{env_int('PORT', 3017, minimum=1, maximum=65535)}"
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
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
