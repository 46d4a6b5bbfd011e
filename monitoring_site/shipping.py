"""Log shipping to Elasticsearch: structured logs, alert events and notification attempts.

Off unless ``ELASTICSEARCH_NODE`` is set. Then every process (gunicorn workers, the worker
cluster) holds one :class:`Shipper`: producers only append to a bounded in-memory queue, so a
request or a job is never held by Elasticsearch; one daemon thread sends the queue in batches
through the bulk API of the official client. While Elasticsearch is down the batch stays queued
and the *oldest* documents are dropped once the queue is full, each drop counted
(``monitoring_log_shipping_dropped``); the outage is logged once when it starts and once when it
ends (``monitoring_site.outages``). The queue is flushed at exit, within the request timeout.

Documents go to daily indices ``<prefix>-<kind>-YYYY.MM.DD`` (kinds: ``logs``, ``alert-events``,
``notification-attempts``), typed by the index template ``<prefix>`` installed before the first
batch. Alert events and attempts are taken from their rows after commit (``post_save`` with lazy
senders): ``monitoring_site`` never imports ``alerts``.
"""

from __future__ import annotations

import atexit
import logging
import os
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models.signals import post_save

from monitoring_site.logging import JsonFormatter
from monitoring_site.outages import IntegrationHealth, add_shared

logger = logging.getLogger(__name__)

KINDS = ("logs", "alert-events", "notification-attempts")
# Loggers never shipped: the client's own (a failing send would log, be shipped, fail, ...).
NOT_SHIPPED = ("elasticsearch", "elastic_transport", "urllib3", __name__)
MAX_BACKOFF = 30.0
HOST = socket.gethostname()

# Fields shared by every kind, typed; other strings are keywords (dynamic template).
TEMPLATE_MAPPINGS: dict[str, Any] = {
    "dynamic_templates": [
        {"strings": {"match_mapping_type": "string", "mapping": {"type": "keyword"}}}
    ],
    "properties": {
        "@timestamp": {"type": "date"},
        "kind": {"type": "keyword"},
        "message": {"type": "text"},
        "exception": {"type": "text"},
        "level": {"type": "keyword"},
        "logger": {"type": "keyword"},
        "host": {"type": "keyword"},
        "pid": {"type": "integer"},
        "alert_id": {"type": "long"},
        "event": {"type": "keyword"},
        "actor": {"type": "keyword"},
        "notification_id": {"type": "long"},
        "channel_id": {"type": "long"},
        "outcome": {"type": "keyword"},
        "status": {"type": "integer"},
        "error": {"type": "text"},
        "duration_ms": {"type": "float"},
        "details": {"type": "flattened"},
    },
}


def index_name(prefix: str, kind: str, at: datetime) -> str:
    return f"{prefix}-{kind}-{at.astimezone(UTC):%Y.%m.%d}"


class Shipper:
    """A bounded queue of documents and the thread that sends it with the bulk API."""

    def __init__(
        self,
        *,
        node: str,
        api_key: str = "",
        prefix: str = "monitoring",
        capacity: int = 10_000,
        batch_size: int = 500,
        flush_seconds: float = 2.0,
        timeout: float = 5.0,
        background: bool = True,
    ) -> None:
        from elasticsearch import Elasticsearch

        self.prefix = prefix
        self.capacity = capacity
        self.batch_size = batch_size
        self.flush_seconds = flush_seconds
        self.timeout = timeout
        self.client = Elasticsearch(
            node, api_key=api_key or None, request_timeout=timeout, max_retries=0
        )
        self.health = IntegrationHealth("elasticsearch")
        self.dropped = 0
        self._unreported_drops = 0
        self._queue: deque[tuple[str, dict[str, Any]]] = deque()
        self._cond = threading.Condition()
        self._template_ready = False
        self._backoff = self._retry_at = 0.0
        self._stopping = False
        self._pid = -1 if background else os.getpid()  # without: flush_once() is called by hand
        self._thread: threading.Thread | None = None

    # --- producers (any thread; never blocks on the network) -------------------------------------
    def submit(self, kind: str, document: dict[str, Any]) -> None:
        """Queue one document; when the queue is full the oldest one is dropped and counted."""
        at = document.get("@timestamp")
        moment = datetime.fromisoformat(at) if isinstance(at, str) else datetime.now(UTC)
        with self._cond:
            self._ensure_thread()
            if len(self._queue) >= self.capacity:
                self._queue.popleft()
                self.dropped += 1
                self._unreported_drops += 1
            self._queue.append((index_name(self.prefix, kind, moment), document))
            if len(self._queue) >= self.batch_size:
                self._cond.notify()

    def pending(self) -> int:
        with self._cond:
            return len(self._queue)

    def _ensure_thread(self) -> None:
        """Start the sender in this process (again after a fork: threads do not survive one)."""
        if self._pid == os.getpid() or self._stopping:
            return
        if self._pid != -1:  # a forked child: what the parent queued is the parent's to send
            self._queue.clear()
        self._pid = os.getpid()
        self._thread = threading.Thread(target=self._run, name="elasticsearch-shipper", daemon=True)
        self._thread.start()

    # --- the sender ------------------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            with self._cond:
                if self._stopping:
                    return
                delay = self._retry_at - time.monotonic()
                if delay > 0:  # backing off after a failure: a full queue must not hurry it
                    self._cond.wait(delay)
                    continue
                if len(self._queue) < self.batch_size:
                    self._cond.wait(self.flush_seconds)
                if self._stopping:
                    return
            self.flush_once()

    def flush_once(self) -> int:
        """Send one batch; return how many documents Elasticsearch took (0: down or nothing)."""
        with self._cond:
            batch = [self._queue.popleft() for _ in range(min(self.batch_size, len(self._queue)))]
        self._report_drops()
        if not batch:
            return 0
        try:
            self._install_template()
            response = self.client.bulk(operations=_operations(batch))
        except Exception as exc:  # connection refused, timeout, 5xx, a proxy's 4xx
            self._put_back(batch)
            self._backoff = min(MAX_BACKOFF, max(1.0, self._backoff * 2))
            self._retry_at = time.monotonic() + self._backoff
            self.health.failed(f"{type(exc).__name__}: {str(exc)[:200]}", count=len(batch))
            return 0
        self._backoff = self._retry_at = 0.0
        self.health.succeeded()
        rejected = [item for item in response.body.get("items", []) if _status(item) >= 300]
        if rejected:  # a mapping conflict: the document can never be taken, keep the rest
            logger.warning(
                "elasticsearch rejected %s documents: %s",
                len(rejected),
                str(next(iter(rejected[0].values())).get("error"))[:300],
            )
            add_shared("elasticsearch", "rejected", len(rejected))
        return len(batch) - len(rejected)

    def _put_back(self, batch: list[tuple[str, dict[str, Any]]]) -> None:
        with self._cond:
            self._queue.extendleft(reversed(batch))
            while len(self._queue) > self.capacity:
                self._queue.popleft()
                self.dropped += 1
                self._unreported_drops += 1
        self._report_drops()

    def _report_drops(self) -> None:
        with self._cond:
            count, self._unreported_drops = self._unreported_drops, 0
        add_shared("elasticsearch", "dropped", count)

    def _install_template(self) -> None:
        if self._template_ready:
            return
        self.client.indices.put_index_template(
            name=self.prefix,
            index_patterns=[f"{self.prefix}-*"],
            template={"mappings": TEMPLATE_MAPPINGS},
            meta={"managed_by": "tickettoken-monitoring"},
        )
        self._template_ready = True

    def close(self) -> None:
        """Stop the thread and flush what is queued (each batch within the request timeout)."""
        with self._cond:
            self._stopping = True
            self._cond.notify()
        if self._thread is not None and self._thread.is_alive():
            self._thread.join(self.timeout + 1)
        deadline = time.monotonic() + self.timeout
        while self.pending() and time.monotonic() < deadline:
            if not self.flush_once():
                break


def _operations(batch: list[tuple[str, dict[str, Any]]]) -> list[dict[str, Any]]:
    operations: list[dict[str, Any]] = []
    for index, document in batch:
        operations.append({"create": {"_index": index}})
        operations.append(document)
    return operations


def _status(item: dict[str, Any]) -> int:
    result: dict[str, Any] = next(iter(item.values()), {})
    return int(result.get("status", 500))


# --- what is shipped -----------------------------------------------------------------------------


class ShippingHandler(logging.Handler):
    """Hands every log record (with its extra fields) to the shipper as a ``logs`` document."""

    def __init__(self, shipper: Shipper) -> None:
        super().__init__()
        self.shipper = shipper
        self.formatter_ = JsonFormatter()

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith(NOT_SHIPPED):
            return
        try:
            document = self.formatter_.payload(record)
            document["@timestamp"] = document.pop("time")
            document["kind"] = "log"
            document["host"] = HOST
            self.shipper.submit("logs", document)
        except Exception:
            self.handleError(record)


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat() if moment else None


def alert_event_document(event: Any) -> dict[str, Any]:
    return {
        "@timestamp": _iso(event.at),
        "kind": "alert_event",
        "alert_id": event.alert_id,
        "event": event.kind,
        "actor": event.actor,
        "details": event.details or {},
    }


def attempt_document(attempt: Any) -> dict[str, Any]:
    return {
        "@timestamp": _iso(attempt.at),
        "kind": "notification_attempt",
        "notification_id": attempt.notification_id,
        "channel_id": attempt.channel_id,
        "outcome": attempt.outcome,
        "status": attempt.status,
        "error": attempt.error,
        "duration_ms": attempt.duration_ms,
    }


_shipper: Shipper | None = None
_handler: ShippingHandler | None = None


def shipper() -> Shipper | None:
    return _shipper


def _on_row(kind: str, build: Callable[[Any], dict[str, Any]]) -> Callable[..., None]:
    def receiver(sender: Any, instance: Any, created: bool, **kwargs: Any) -> None:
        if created and _shipper is not None:
            document = build(instance)
            active = _shipper
            transaction.on_commit(lambda: active.submit(kind, document))

    return receiver


_alert_event_saved = _on_row("alert-events", alert_event_document)
_attempt_saved = _on_row("notification-attempts", attempt_document)


def install(**options: Any) -> Shipper:
    """Start shipping in this process: the log handler and the row receivers (idempotent)."""
    global _shipper, _handler
    if _shipper is not None:
        return _shipper
    _shipper = Shipper(**options)
    _handler = ShippingHandler(_shipper)
    logging.getLogger().addHandler(_handler)
    post_save.connect(_alert_event_saved, sender="alerts.AlertEvent", dispatch_uid="ship-events")
    post_save.connect(_attempt_saved, sender="alerts.NotificationAttempt", dispatch_uid="ship-att")
    atexit.register(_shipper.close)
    return _shipper


def uninstall() -> None:
    """Stop shipping (flushing what is queued); tests and shutdown."""
    global _shipper, _handler
    if _handler is not None:
        logging.getLogger().removeHandler(_handler)
    post_save.disconnect(sender="alerts.AlertEvent", dispatch_uid="ship-events")
    post_save.disconnect(sender="alerts.NotificationAttempt", dispatch_uid="ship-att")
    if _shipper is not None:
        atexit.unregister(_shipper.close)
        _shipper.close()
    _shipper, _handler = None, None


def install_from_settings() -> Shipper | None:
    """``AppConfig.ready()``: ship when ``ELASTICSEARCH_NODE`` is set; otherwise do nothing."""
    if not settings.ELASTICSEARCH_NODE:
        return None
    return install(
        node=settings.ELASTICSEARCH_NODE,
        api_key=settings.ELASTICSEARCH_API_KEY,
        prefix=settings.ELASTICSEARCH_INDEX_PREFIX,
        capacity=settings.ELASTICSEARCH_QUEUE_SIZE,
        batch_size=settings.ELASTICSEARCH_BATCH_SIZE,
        flush_seconds=settings.ELASTICSEARCH_FLUSH_SECONDS,
        timeout=settings.ELASTICSEARCH_TIMEOUT,
    )
