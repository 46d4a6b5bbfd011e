"""Forwarding of ingested samples to a Prometheus-compatible backend by remote write.

With ``METRICS_BACKEND=prometheus`` and ``METRICS_REMOTE_WRITE_URL`` set, every accepted ingest
batch queues, in its own transaction, one request: each series it touched with its cumulative
value after the batch (``Series.value``: a counter pushed here as increments arrives there as a
counter). The value's time is the series' latest sample time, moved 1 ms past the previous value
queued for that series when needed (``Series.remote_ts``, updated under the series' row lock),
so the receiver never sees a series go back in time, which Prometheus answers by refusing the
whole request.

One forwarder at a time (a lease on :class:`RemoteWriteProgress`) sends the queue oldest first,
so each series' values arrive in order. Connection errors, 5xx and 429 stop the run and back off
(exponentially, with jitter, at most ``MAX_BACKOFF``); a 4xx is the receiver refusing that
request for good (out of bounds, bad labels) and the batch is counted as rejected and dropped.
The queue holds at most ``METRICS_REMOTE_WRITE_QUEUE_BATCHES`` batches: beyond it the oldest are
dropped and counted, so an outage of the receiver costs history, never ingestion.
"""

from __future__ import annotations

import json
import logging
import os
import random
import socket
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import requests
from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Count, F, Q, Sum
from django.utils import timezone

from metrics_app.models import RemoteWriteBatch, RemoteWriteProgress
from metrics_app.remote_write import HEADERS, RemoteSample, encode_samples

logger = logging.getLogger(__name__)

FORWARD_TASK = "metrics_app.tasks.forward_samples"
LEASE = timedelta(seconds=120)
MAX_BACKOFF = 300.0
WAKE_KEY = "metrics_app:remote_write:wake"


def enabled() -> bool:
    return settings.METRICS_BACKEND == "prometheus" and bool(settings.METRICS_REMOTE_WRITE_URL)


# --- queueing (inside the ingest transaction) ----------------------------------------------------


def queue_series(*, ids: Iterable[int], now: datetime) -> RemoteWriteBatch | None:
    """Queue the current values of these series (just written by this transaction)."""
    samples = [
        RemoteSample(name, labels, value, ts) for name, labels, value, ts in _stamp(sorted(ids))
    ]
    if not samples:
        return None
    batch = RemoteWriteBatch.objects.create(
        body=encode_samples(samples), samples=len(samples), created_at=now
    )
    _trim(newest=batch.pk)
    transaction.on_commit(wake)
    return batch


def _stamp(ids: list[int]) -> list[tuple[str, dict[str, str], float, int]]:
    """Give each series its next remote time and read its value, in one statement."""
    if not ids:
        return []
    param: list[int] | str = ids
    if connection.vendor == "postgresql":
        value_ms = "floor(extract(epoch FROM value_at) * 1000)::bigint"
        newer, where = "GREATEST", "id = ANY(%s)"
    else:
        value_ms = (
            "CAST(strftime('%%s', value_at) AS INTEGER) * 1000"
            " + CAST(substr(strftime('%%f', value_at), 4) AS INTEGER)"
        )
        newer, where = "max", "id IN (SELECT value FROM json_each(%s))"
        param = json.dumps(ids)
    sql = (
        f"UPDATE metrics_app_series SET remote_ts = {newer}(COALESCE(remote_ts + 1, 0), "  # noqa: S608
        f"COALESCE({value_ms}, 0)) WHERE {where} RETURNING name, labels, value, remote_ts"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [param])
        rows = cursor.fetchall()
    return [
        (name, labels if isinstance(labels, dict) else json.loads(labels), value, ts)
        for name, labels, value, ts in rows
    ]


def _trim(*, newest: int) -> None:
    """Drop the oldest batches beyond the queue's bound (ids only grow: one indexed range)."""
    bound = settings.METRICS_REMOTE_WRITE_QUEUE_BATCHES
    over = RemoteWriteBatch.objects.filter(pk__lte=newest - bound)
    counts = over.aggregate(batches=Count("pk"), samples=Sum("samples"))
    if not counts["batches"]:
        return
    over.delete()
    _progress().update(
        dropped_batches=F("dropped_batches") + counts["batches"],
        dropped_samples=F("dropped_samples") + (counts["samples"] or 0),
    )
    logger.warning(
        "remote write queue full: dropped the oldest batches",
        extra={"batches": counts["batches"], "samples": counts["samples"]},
    )


def wake() -> None:
    """Start a forwarder (at most one wake-up a second; the minute job catches a lost one)."""
    if not cache.add(WAKE_KEY, 1, timeout=1):
        return
    try:
        from django_q.tasks import async_task

        async_task(FORWARD_TASK, group="remote_write")
    except Exception:  # the broker is down: the minute job forwards instead
        logger.warning("could not enqueue a remote write forwarder", exc_info=True)


# --- sending (one forwarder at a time) ------------------------------------------------------------


class SendError(Exception):
    def __init__(self, message: str, *, permanent: bool) -> None:
        super().__init__(message)
        self.permanent = permanent


@dataclass
class Outcome:
    sent: int = 0
    rejected: int = 0
    error: str = ""

    def as_dict(self) -> dict[str, Any]:
        result: dict[str, Any] = {"sent": self.sent, "rejected": self.rejected}
        if self.error:
            result["error"] = self.error
        return result


def _progress() -> Any:
    RemoteWriteProgress.objects.get_or_create(key="remote_write")
    return RemoteWriteProgress.objects.filter(key="remote_write")


def forward_pending(*, max_seconds: float = 50.0) -> dict[str, Any]:
    """Send queued batches oldest first until the queue is empty, a failure, or ``max_seconds``."""
    if not enabled():
        return {"skipped": "METRICS_BACKEND is not prometheus or METRICS_REMOTE_WRITE_URL unset"}
    holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    if not _take_lease(holder):
        return {"skipped": "another forwarder is sending, or backing off"}
    outcome = Outcome()
    started = time.monotonic()
    try:
        with requests.Session() as session:
            while time.monotonic() - started < max_seconds:
                batch = RemoteWriteBatch.objects.order_by("pk").first()
                if batch is None or not _send_one(session, batch, outcome):
                    break
    finally:
        _progress().filter(holder=holder).update(holder="", lease_until=None)
    return outcome.as_dict()


def _take_lease(holder: str) -> bool:
    now = timezone.now()
    free = Q(lease_until__isnull=True) | Q(lease_until__lt=now)
    due = Q(retry_at__isnull=True) | Q(retry_at__lte=now)
    return bool(_progress().filter(free, due).update(holder=holder, lease_until=now + LEASE))


def _send_one(session: requests.Session, batch: RemoteWriteBatch, outcome: Outcome) -> bool:
    """Send one batch; whether to go on with the next."""
    try:
        post(session, bytes(batch.body))
    except SendError as exc:
        if not exc.permanent:
            _failed(batch, str(exc))
            outcome.error = str(exc)
            return False
        _finished(batch, rejected=True, error=str(exc))
        outcome.rejected += 1
        return True
    _finished(batch, rejected=False)
    outcome.sent += 1
    return True


def post(session: requests.Session, body: bytes) -> None:
    """POST one request body to ``METRICS_REMOTE_WRITE_URL``; raises :class:`SendError`."""
    headers = dict(HEADERS)
    if settings.METRICS_REMOTE_WRITE_TOKEN:
        headers["Authorization"] = f"Bearer {settings.METRICS_REMOTE_WRITE_TOKEN}"
    auth = None
    if settings.METRICS_REMOTE_WRITE_USERNAME:
        auth = (settings.METRICS_REMOTE_WRITE_USERNAME, settings.METRICS_REMOTE_WRITE_PASSWORD)
    try:
        response = session.post(
            settings.METRICS_REMOTE_WRITE_URL,
            data=body,
            headers=headers,
            auth=auth,
            timeout=settings.METRICS_REMOTE_WRITE_TIMEOUT,
            allow_redirects=False,
        )
    except requests.RequestException as exc:
        raise SendError(f"receiver unreachable: {type(exc).__name__}", permanent=False) from None
    if response.status_code < 300:
        return
    detail = f"receiver answered {response.status_code}: {response.text[:200].strip()}"
    transient = response.status_code >= 500 or response.status_code == 429
    raise SendError(detail, permanent=not transient)


@transaction.atomic
def _finished(batch: RemoteWriteBatch, *, rejected: bool, error: str = "") -> None:
    gone = RemoteWriteBatch.objects.filter(pk=batch.pk).delete()[0]
    if not gone:  # dropped by a full queue meanwhile, and counted there
        return
    now = timezone.now()
    if rejected:
        logger.error(
            "remote write batch rejected by the receiver, dropped",
            extra={"batch": batch.pk, "samples": batch.samples, "error": error},
        )
        _progress().update(
            rejected_batches=F("rejected_batches") + 1,
            rejected_samples=F("rejected_samples") + batch.samples,
            last_error=error[:500],
            last_error_at=now,
        )
        return
    _progress().update(
        sent_batches=F("sent_batches") + 1,
        sent_samples=F("sent_samples") + batch.samples,
        last_sent_at=now,
        failures=0,
        retry_at=None,
    )


@transaction.atomic
def _failed(batch: RemoteWriteBatch, error: str) -> None:
    now = timezone.now()
    RemoteWriteBatch.objects.filter(pk=batch.pk).update(
        attempts=F("attempts") + 1, last_error=error[:500]
    )
    progress = _progress().select_for_update().get()
    failures = progress.failures + 1
    delay = min(MAX_BACKOFF, 2.0 ** min(failures, 16)) * random.uniform(0.8, 1.2)
    _progress().update(
        failures=failures,
        retry_at=now + timedelta(seconds=delay),
        last_error=error[:500],
        last_error_at=now,
    )
    logger.warning(
        "remote write failed, retried later",
        extra={"batch": batch.pk, "error": error, "retry_in_seconds": round(delay, 1)},
    )
