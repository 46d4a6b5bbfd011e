"""Optional export of 5-minute rollups to InfluxDB v2 (``/api/v2/write``, line protocol).

Rollups changed since their last export carry ``exported=False``; each run sends them oldest
first in batches and marks a batch exported only after InfluxDB accepted it. A point is keyed by
measurement, tags and timestamp, so sending a recomputed period again overwrites it. An outage
leaves the rows for the next run and never touches local aggregation.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

import requests
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from metrics_app.models import Rollup

logger = logging.getLogger(__name__)


class InfluxError(Exception):
    pass


def enabled() -> bool:
    return bool(settings.INFLUXDB_URL)


def _config() -> dict[str, str]:
    missing = [
        name
        for name in ("INFLUXDB_URL", "INFLUXDB_TOKEN", "INFLUXDB_ORG", "INFLUXDB_BUCKET")
        if not getattr(settings, name)
    ]
    if missing:
        raise ImproperlyConfigured(f"InfluxDB export needs {', '.join(missing)}")
    return {
        "url": settings.INFLUXDB_URL.rstrip("/") + "/api/v2/write",
        "token": settings.INFLUXDB_TOKEN,
        "org": settings.INFLUXDB_ORG,
        "bucket": settings.INFLUXDB_BUCKET,
    }


def _escape_key(text: str) -> str:
    """Measurement names, tag keys and tag values: escape commas, spaces and equals signs."""
    return text.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=").replace(" ", "\\ ")


def line(rollup: Rollup) -> str:
    """One point: ``series_name,tag=v count=3i,sum=...,min=...,max=...,last=... <unix s>``."""
    series = rollup.series
    tags = "".join(
        f",{_escape_key(name)}={_escape_key(value)}"
        for name, value in sorted(series.labels.items())
        if value != ""
    )
    fields = (
        f"count={rollup.count}i,sum={rollup.sum!r},min={rollup.min!r},"
        f"max={rollup.max!r},last={rollup.last!r}"
    )
    return f"{_escape_key(series.name)}{tags} {fields} {int(rollup.start.timestamp())}"


def write(lines: Iterable[str], config: dict[str, str]) -> None:
    body = "\n".join(lines).encode()
    try:
        response = requests.post(
            config["url"],
            params={"org": config["org"], "bucket": config["bucket"], "precision": "s"},
            data=body,
            headers={
                "Authorization": f"Token {config['token']}",
                "Content-Type": "text/plain; charset=utf-8",
            },
            timeout=settings.INFLUXDB_TIMEOUT,
        )
    except requests.RequestException as exc:
        raise InfluxError(f"InfluxDB unreachable: {type(exc).__name__}") from None
    if response.status_code >= 300:
        raise InfluxError(f"InfluxDB answered {response.status_code}: {response.text[:200]}")


def export_rollups() -> dict[str, Any]:
    """Send unexported 5-minute rollups in batches; stops at the first failure (retried later)."""
    if not enabled():
        return {"exported": 0, "skipped": "INFLUXDB_URL not set"}
    config = _config()
    sent = 0
    pending = Rollup.objects.filter(
        resolution=Rollup.Resolution.FIVE_MINUTES, exported=False
    ).select_related("series")
    for _ in range(settings.INFLUXDB_MAX_BATCHES):
        rows = list(pending.order_by("start", "id")[: settings.INFLUXDB_BATCH_SIZE])
        if not rows:
            break
        try:
            write((line(row) for row in rows), config)
        except InfluxError as exc:
            logger.warning("InfluxDB export failed, retried next run: %s", exc)
            return {"exported": sent, "error": str(exc)}
        # The aggregation job runs the export right after recomputing, in the same process, so no
        # recompute can change these rows between reading and marking them.
        Rollup.objects.filter(pk__in=[row.pk for row in rows]).update(exported=True)
        sent += len(rows)
    return {"exported": sent}
