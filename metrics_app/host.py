"""The monitor's own host: CPU, memory and disk usage, sampled with psutil, stored as series."""

from __future__ import annotations

import socket
from datetime import datetime

import psutil
from django.conf import settings
from django.utils import timezone

from metrics_app.catalogue import get_metric
from metrics_app.ingest import Sample
from metrics_app.services import store_samples


def host_samples(*, now: datetime, cpu_interval: float = 1.0) -> list[Sample]:
    host = socket.gethostname()[:128]
    path = str(settings.VAR_DIR) if settings.VAR_DIR.exists() else "/"
    readings = (
        ("system_cpu_usage_percent", {"host": host}, psutil.cpu_percent(interval=cpu_interval)),
        ("system_memory_usage_percent", {"host": host}, psutil.virtual_memory().percent),
        (
            "system_disk_usage_percent",
            {"host": host, "mountpoint": path[:128]},
            psutil.disk_usage(path).percent,
        ),
    )
    samples = []
    for name, labels, value in readings:
        spec = get_metric(name)
        assert spec is not None
        samples.append(Sample(spec, labels, (float(value),), now))
    return samples


def sample_host(*, now: datetime | None = None, cpu_interval: float = 1.0) -> int:
    """Store one reading of each host gauge; the number of samples stored."""
    now = now or timezone.now()
    return store_samples(samples=host_samples(now=now, cpu_interval=cpu_interval), now=now)
