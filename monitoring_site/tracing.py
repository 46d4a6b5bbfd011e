"""Tracing with OpenTelemetry, exported over OTLP/HTTP; off (nothing imported) unless configured.

When ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set, every process traces:

- requests (``opentelemetry-instrumentation-django``);
- database queries (``-psycopg`` on PostgreSQL; on SQLite ``-dbapi`` wraps ``sqlite3``);
- outgoing HTTP: health probes (``-httpx``), PagerDuty and webhooks (``-requests``), Slack
  (``-urllib``, which slack_sdk uses);
- jobs: the job wrapper opens a ``job <name>`` span (attribute ``job.name``), and every other
  task the worker runs a ``task <function>`` span (django-q2's execution signals);
- alerts: a span during which an alert event or a notification attempt is written gets
  ``alert.id`` (and the event or the attempt as a span event), read from the rows after save.

Spans leave in batches from a background thread (``BatchSpanProcessor``), never on the request
path; an unreachable collector is counted (``monitoring_integration_failures{integration="otlp"}``)
and logged once per outage. With the variable unset none of this is imported: it costs nothing.
"""

from __future__ import annotations

import atexit
import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models.signals import post_save

from monitoring_site.outages import IntegrationHealth

logger = logging.getLogger(__name__)

HEALTH = IntegrationHealth("otlp")
# Rows (lazy senders: monitoring_site never imports alerts) whose save marks the current span.
_ALERT_ROWS = (("alerts.AlertEvent", "trace-events"), ("alerts.NotificationAttempt", "trace-at"))
_state: dict[str, Any] = {}


def enabled() -> bool:
    return "provider" in _state


@contextmanager
def span(name: str, **attributes: Any) -> Iterator[Any]:
    """A span named ``name`` when tracing is on; nothing at all when it is off."""
    if not enabled():
        yield None
        return
    tracer = _state["tracer"]
    with tracer.start_as_current_span(name, attributes=attributes) as current:
        yield current


def _exporter_class() -> type:
    from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

    class ReportingExporter(SpanExporter):
        """The OTLP/HTTP exporter, with its failures counted and logged once per outage."""

        def __init__(self, inner: Any) -> None:
            self.inner = inner

        def export(self, spans: Sequence[Any]) -> Any:
            try:
                result = self.inner.export(spans)
            except Exception as exc:  # the exporter raises on some transport errors
                HEALTH.failed(type(exc).__name__, count=len(spans))
                return SpanExportResult.FAILURE
            if result == SpanExportResult.SUCCESS:
                HEALTH.succeeded()
            else:
                HEALTH.failed("the collector refused or did not answer", count=len(spans))
            return result

        def shutdown(self) -> None:
            self.inner.shutdown()

        def force_flush(self, timeout_millis: int = 30_000) -> bool:
            return bool(self.inner.force_flush(timeout_millis))

    return ReportingExporter


def install(*, endpoint: str, service_name: str, timeout: float) -> Any:
    """Trace this process: provider, exporter, instrumentations, job and alert hooks."""
    if enabled():
        return _state["provider"]
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    exporter = OTLPSpanExporter(endpoint=f"{endpoint.rstrip('/')}/v1/traces", timeout=timeout)
    provider.add_span_processor(
        BatchSpanProcessor(
            _exporter_class()(exporter),
            max_queue_size=settings.TRACING_QUEUE_SIZE,
            export_timeout_millis=int(timeout * 1000),
        )
    )
    _state.update(provider=provider, tracer=provider.get_tracer("monitoring_site"))
    _instrument(provider)
    for model, uid in _ALERT_ROWS:
        post_save.connect(_alert_row_saved, sender=model, dispatch_uid=uid)
    _connect_task_signals()
    atexit.register(provider.shutdown)
    trace.set_tracer_provider(provider)
    return provider


def _instrument(provider: Any) -> None:
    import sqlite3

    from opentelemetry.instrumentation.dbapi import trace_integration
    from opentelemetry.instrumentation.django import DjangoInstrumentor
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
    from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor
    from opentelemetry.instrumentation.requests import RequestsInstrumentor
    from opentelemetry.instrumentation.urllib import URLLibInstrumentor

    instrumentors: list[Any] = [
        DjangoInstrumentor(),
        PsycopgInstrumentor(),
        RequestsInstrumentor(),
        HTTPXClientInstrumentor(),
        URLLibInstrumentor(),
    ]
    for instrumentor in instrumentors:
        instrumentor.instrument(tracer_provider=provider)
    _state["instrumentors"] = instrumentors
    if connection.vendor == "sqlite":  # Django's SQLite backend connects through sqlite3.dbapi2
        module: Any = sqlite3.dbapi2  # the package's hints say callable; it takes a module
        trace_integration(module, "connect", "sqlite", tracer_provider=provider)
        _state["sqlite"] = True


def uninstall() -> None:
    """Flush and stop tracing in this process (tests)."""
    if not enabled():
        return
    for instrumentor in _state.get("instrumentors", []):
        instrumentor.uninstrument()
    if _state.get("sqlite"):
        import sqlite3

        from opentelemetry.instrumentation.dbapi import unwrap_connect

        module: Any = sqlite3.dbapi2
        unwrap_connect(module, "connect")
    for model, uid in _ALERT_ROWS:
        post_save.disconnect(sender=model, dispatch_uid=uid)
    _disconnect_task_signals()
    provider = _state["provider"]
    atexit.unregister(provider.shutdown)
    provider.force_flush()
    provider.shutdown()
    _state.clear()


def force_flush() -> bool:
    return bool(_state["provider"].force_flush()) if enabled() else True


# --- alerts and notifications on the current span ------------------------------------------------


def _alert_row_saved(sender: Any, instance: Any, created: bool, **kwargs: Any) -> None:
    from opentelemetry import trace

    current = trace.get_current_span()
    if not created or not current.is_recording():
        return
    if hasattr(instance, "notification_id"):  # a NotificationAttempt
        alert_id = instance.notification.alert_id
        current.add_event(
            "notification attempt",
            {"notification.id": instance.notification_id, "outcome": instance.outcome},
        )
    else:
        alert_id = instance.alert_id
        current.add_event("alert event", {"alert.id": alert_id, "event": instance.kind})
    if alert_id is not None:
        current.set_attribute("alert.id", alert_id)


# --- tasks the worker runs outside the job wrapper -----------------------------------------------


def _task_started(sender: Any, func: Any, task: dict[str, Any], **kwargs: Any) -> None:
    from opentelemetry import context, trace

    from monitoring_site.worker_guard import dotted_name

    name = dotted_name(task.get("func"))
    if name.endswith(".run_job"):  # the job wrapper opens its own span
        return
    started = _state["tracer"].start_span(f"task {name}", attributes={"task.function": name})
    token = context.attach(trace.set_span_in_context(started))
    task["_trace"] = (started, token)


def _task_finished(sender: Any, task: dict[str, Any], **kwargs: Any) -> None:
    from opentelemetry import context

    held = task.pop("_trace", None)
    if held is None:
        return
    started, token = held
    if not task.get("success", True):
        started.set_attribute("error", True)
    context.detach(token)
    started.end()


def _connect_task_signals() -> None:
    from django_q.signals import post_execute_in_worker, pre_execute

    pre_execute.connect(_task_started, dispatch_uid="trace-task-start")
    post_execute_in_worker.connect(_task_finished, dispatch_uid="trace-task-end")


def _disconnect_task_signals() -> None:
    from django_q.signals import post_execute_in_worker, pre_execute

    pre_execute.disconnect(dispatch_uid="trace-task-start")
    post_execute_in_worker.disconnect(dispatch_uid="trace-task-end")


def install_from_settings() -> Any:
    """``AppConfig.ready()``: trace when ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set; else nothing."""
    if not settings.OTEL_EXPORTER_OTLP_ENDPOINT:
        return None
    return install(
        endpoint=settings.OTEL_EXPORTER_OTLP_ENDPOINT,
        service_name=settings.OTEL_SERVICE_NAME,
        timeout=settings.TRACING_TIMEOUT,
    )
