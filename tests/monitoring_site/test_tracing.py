"""Tracing over OTLP/HTTP: requests, queries and jobs reach a collector on 127.0.0.1 (#14)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.db import connection
from django.test import Client

from monitoring_site import tracing
from monitoring_site.jobs import run_job
from tests.support.fake_otlp import OtlpCollector
from tests.support.fake_otlp import otlp_collector as otlp_collector
from tests.support.fake_otlp import traced as traced

pytestmark = pytest.mark.django_db


def explode() -> None:
    raise RuntimeError("the upstream answered 502")


def test_a_request_is_traced_with_its_route_and_status(traced: OtlpCollector) -> None:
    assert Client().get("/status").status_code == 200
    assert tracing.force_flush()
    [server] = [span for span in traced.spans if span.kind == 2]  # SERVER
    assert (server.name, server.service) == ("GET ^status/?$", "monitoring-test")
    assert server.attributes["http.method"] == "GET"
    assert server.attributes["http.route"] == "^status/?$"
    assert server.attributes["http.status_code"] == 200


def test_database_queries_are_traced_in_a_process_that_starts_with_tracing_on(
    otlp_collector: OtlpCollector, run_django: Any, tmp_path: Any
) -> None:
    # Instrumentation wraps new connections: a fresh process (as every web and worker process
    # is) where the test's own connection, opened before, cannot show it.
    database = f"sqlite:///{tmp_path}/traced.sqlite3"
    if connection.vendor == "postgresql":  # the test database, which exists
        db = connection.settings_dict
        database = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    code = (
        "import django; django.setup();"
        "from django.db import connection; from monitoring_site import tracing;"
        "cm = tracing.span('probe');"
        "cm.__enter__(); connection.cursor().execute('SELECT 1'); cm.__exit__(None, None, None);"
        "assert tracing.force_flush()"
    )
    result = run_django(
        code=code,
        DEBUG="true",
        DATABASE_URL=database,
        OTEL_EXPORTER_OTLP_ENDPOINT=otlp_collector.url,
        OTEL_SERVICE_NAME="traced-process",
    )
    assert result.returncode == 0, result.stderr[-2000:]
    [probe] = otlp_collector.named("probe")
    # On PostgreSQL, connecting sets the time zone first: a query span of its own.
    children = [span for span in otlp_collector.spans if span.parent_span_id == probe.span_id]
    [query] = [s for s in children if s.attributes["db.statement"].startswith("SELECT 1")]
    assert query.name == "SELECT"
    assert query.attributes["db.system"] == ("postgresql" if "postgres" in database else "sqlite")
    assert query.service == "traced-process"


def test_a_job_is_traced_with_its_name(traced: OtlpCollector) -> None:
    run_job("metrics.host", lambda: "ok")
    with pytest.raises(RuntimeError):
        run_job("health.round", explode)
    assert tracing.force_flush()
    [ok] = traced.named("job metrics.host")
    assert ok.attributes["job.name"] == "metrics.host"
    assert ok.status_code != 2
    [failed] = traced.named("job health.round")
    assert failed.status_code == 2  # ERROR
    assert [name for name, _ in failed.events] == ["exception"]


def test_an_unreachable_collector_never_fails_a_job_and_is_counted(
    otlp_collector: OtlpCollector,
) -> None:
    from monitoring_site.outages import read_shared

    port = otlp_collector.port
    otlp_collector.stop()
    before = read_shared("otlp", "failures")
    tracing.install(endpoint=f"http://127.0.0.1:{port}", service_name="x", timeout=0.5)
    try:
        assert run_job("metrics.host", lambda: "ok") == "ok"
        tracing.force_flush()
    finally:
        tracing.uninstall()
    assert read_shared("otlp", "failures") > before


def test_without_an_endpoint_no_instrumentation_or_exporter_is_even_imported(
    run_django: Any,
) -> None:
    # redis-py imports the OpenTelemetry API by itself when it is installed; the instrumentation
    # packages, the exporter and the Elasticsearch client are ours to load, and they are not.
    code = (
        "import django, sys; django.setup();"
        "from django.conf import settings; from django.test import Client;"
        "Client().get('/status');"
        "import json; print(json.dumps(sorted({m for m in sys.modules if m.startswith(("
        "'opentelemetry.instrumentation', 'opentelemetry.exporter', 'opentelemetry.sdk.trace',"
        "'elasticsearch'))} | {m for m in settings.MIDDLEWARE if 'opentelemetry' in m})))"
    )
    result = run_django(code=code, DEBUG="true")
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []
