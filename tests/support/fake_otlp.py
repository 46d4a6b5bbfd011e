"""An OTLP/HTTP collector on 127.0.0.1: ``POST /v1/traces`` with a protobuf
``ExportTraceServiceRequest``, decoded into plain spans; and the fixture that traces into it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from tests.support.fake_vendors import Answer, FakeServer, RecordedRequest


@dataclass
class ReceivedSpan:
    name: str
    kind: int
    trace_id: str
    span_id: str
    parent_span_id: str
    attributes: dict[str, Any]
    events: list[tuple[str, dict[str, Any]]]
    service: str
    status_code: int
    resource: dict[str, Any] = field(default_factory=dict)


def _value(any_value: Any) -> Any:
    kind = any_value.WhichOneof("value")
    return getattr(any_value, kind) if kind else None


def _attributes(pairs: Any) -> dict[str, Any]:
    return {pair.key: _value(pair.value) for pair in pairs}


class OtlpCollector(FakeServer):
    """Records every span it receives, decoded from the protobuf body."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self._spans: list[ReceivedSpan] = []
        self._data = threading.Lock()

    @property
    def spans(self) -> list[ReceivedSpan]:
        with self._data:
            return list(self._spans)

    def named(self, prefix: str) -> list[ReceivedSpan]:
        return [span for span in self.spans if span.name.startswith(prefix)]

    def handle(self, request: RecordedRequest) -> Answer:
        if request.method != "POST" or request.path != "/v1/traces":
            return 404, {"Content-Type": "text/plain"}, b"not found"
        if request.header("content-type") != "application/x-protobuf":
            return 415, {"Content-Type": "text/plain"}, b"protobuf only"
        export = ExportTraceServiceRequest()
        export.ParseFromString(request.body)
        with self._data:
            for resource_spans in export.resource_spans:
                resource = _attributes(resource_spans.resource.attributes)
                for scope in resource_spans.scope_spans:
                    self._spans.extend(self._decode(span, resource) for span in scope.spans)
        body = ExportTraceServiceResponse().SerializeToString()
        return 200, {"Content-Type": "application/x-protobuf"}, body

    @staticmethod
    def _decode(span: Any, resource: dict[str, Any]) -> ReceivedSpan:
        return ReceivedSpan(
            name=span.name,
            kind=span.kind,
            trace_id=span.trace_id.hex(),
            span_id=span.span_id.hex(),
            parent_span_id=span.parent_span_id.hex(),
            attributes=_attributes(span.attributes),
            events=[(event.name, _attributes(event.attributes)) for event in span.events],
            service=str(resource.get("service.name", "")),
            status_code=span.status.code,
            resource=resource,
        )


@pytest.fixture
def otlp_collector() -> Iterator[OtlpCollector]:
    with OtlpCollector() as collector:
        yield collector


@pytest.fixture
def traced(otlp_collector: OtlpCollector) -> Iterator[OtlpCollector]:
    """Tracing on for one test, exporting to the collector; flushed and switched off after."""
    from monitoring_site import tracing

    tracing.install(endpoint=otlp_collector.url, service_name="monitoring-test", timeout=2)
    yield otlp_collector
    tracing.uninstall()
