"""GET /metrics: who may scrape, what it shows, and that promtool accepts it."""

from __future__ import annotations

import ipaddress
import re
import subprocess
from collections.abc import Iterator
from datetime import timedelta
from typing import Any, TypedDict, Unpack

import pytest
from django.test import Client
from prometheus_client.core import GaugeMetricFamily

from metrics_app import exposition
from metrics_app.catalogue import CATALOGUE
from metrics_app.host import sample_host
from metrics_app.services import store_samples
from monitoring_site.jobs import run_job
from monitoring_site.models import JobRun
from tests.metrics_app.conftest import NOW, Push
from tests.support.components import require_binary

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clock")]


class _Headers(TypedDict, total=False):
    HTTP_X_FORWARDED_FOR: str
    HTTP_AUTHORIZATION: str


def scrape(client: Client, remote: str = "127.0.0.1", **headers: Unpack[_Headers]) -> Any:
    return client.get("/metrics", REMOTE_ADDR=remote, **headers)


# --- access --------------------------------------------------------------------------------------


@pytest.fixture
def no_access_settings(settings: Any) -> Any:
    settings.METRICS_PUBLIC = False
    settings.METRICS_TOKEN = ""
    settings.PROMETHEUS_IPS = []
    settings.TRUSTED_PROXIES = 0
    return settings


def test_with_nothing_configured_only_loopback_may_scrape(
    client: Client, no_access_settings: Any
) -> None:
    assert scrape(client, "127.0.0.1").status_code == 200
    assert scrape(client, "::1").status_code == 200
    refused = scrape(client, "10.0.0.7")
    assert refused.status_code == 403
    assert refused["Content-Type"].startswith("text/plain")
    assert "only loopback" in refused.content.decode()


def test_a_spoofed_forwarded_for_does_not_make_a_remote_client_loopback(
    client: Client, no_access_settings: Any
) -> None:
    assert scrape(client, "10.0.0.7", HTTP_X_FORWARDED_FOR="127.0.0.1").status_code == 403


def test_behind_a_trusted_proxy_the_forwarded_client_address_decides(
    client: Client, no_access_settings: Any
) -> None:
    no_access_settings.TRUSTED_PROXIES = 1
    no_access_settings.PROMETHEUS_IPS = [ipaddress.ip_network("192.0.2.0/24")]
    # The proxy (10.0.0.1) appended the real client; what the client wrote to the left is ignored.
    allowed = scrape(client, "10.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.9, 192.0.2.44")
    spoofed = scrape(client, "10.0.0.1", HTTP_X_FORWARDED_FOR="192.0.2.44, 203.0.113.9")
    assert (allowed.status_code, spoofed.status_code) == (200, 403)


def test_prometheus_ips_admit_their_addresses_and_networks_only(
    client: Client, no_access_settings: Any
) -> None:
    no_access_settings.PROMETHEUS_IPS = [
        ipaddress.ip_network("10.1.0.0/16"),
        ipaddress.ip_network("192.0.2.5/32"),
    ]
    assert scrape(client, "10.1.200.3").status_code == 200
    assert scrape(client, "192.0.2.5").status_code == 200
    refused = scrape(client, "192.0.2.6")
    assert refused.status_code == 403
    assert "not in PROMETHEUS_IPS" in refused.content.decode()
    # Loopback is no longer implied once addresses are configured.
    assert scrape(client, "127.0.0.1").status_code == 403


def test_metrics_token_admits_the_right_bearer_only(
    client: Client, no_access_settings: Any
) -> None:
    no_access_settings.METRICS_TOKEN = "s3cret-scrape-token"
    right = scrape(client, "10.0.0.7", HTTP_AUTHORIZATION="Bearer s3cret-scrape-token")
    wrong = scrape(client, "10.0.0.7", HTTP_AUTHORIZATION="Bearer guess")
    missing = scrape(client, "10.0.0.7")
    assert (right.status_code, wrong.status_code, missing.status_code) == (200, 403, 403)
    assert "wrong bearer token" in wrong.content.decode()
    assert "token is required" in missing.content.decode()


def test_metrics_public_opens_it_to_anyone(client: Client, no_access_settings: Any) -> None:
    no_access_settings.METRICS_PUBLIC = True
    assert scrape(client, "198.51.100.1").status_code == 200


def test_only_get_and_head_are_allowed(client: Client) -> None:
    assert client.post("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 405


# --- content -------------------------------------------------------------------------------------


def text_of(client: Client) -> str:
    response = scrape(client)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    return response.content.decode()


def test_every_catalogue_metric_has_help_and_type_even_without_samples(client: Client) -> None:
    text = text_of(client)
    for spec in CATALOGUE:
        name = exposition.exposed_name(spec)
        assert f"# TYPE {name} {spec.type}\n" in text
        assert f"# HELP {name} " in text


def test_stored_totals_appear_with_their_labels(client: Client, push: Push) -> None:
    push(
        [
            {"metric": "tickets_sold_total", "value": 5},
            {"metric": "tickets_sold_total", "value": 7},
            {"metric": "queue_size", "labels": {"queue": "mint"}, "value": 3},
        ]
    )
    text = text_of(client)
    assert 'tickets_sold_total{service="payment"} 12.0\n' in text
    assert 'queue_size{queue="mint",service="payment"} 3.0\n' in text


def test_a_counter_not_ending_in_total_is_exposed_with_total_appended(
    client: Client, push: Push
) -> None:
    push([{"metric": "revenue_total_cents", "labels": {"type": "primary"}, "value": 990}])
    text = text_of(client)
    assert "# TYPE revenue_total_cents_total counter" in text
    assert 'revenue_total_cents_total{service="payment",type="primary"} 990.0' in text


def test_a_histogram_is_exposed_complete_and_in_bucket_order(client: Client, push: Push) -> None:
    push([{"metric": "payment_processing_duration_ms", "value": 700}])
    lines = [
        line
        for line in text_of(client).splitlines()
        if line.startswith("payment_processing_duration_ms")
    ]
    assert lines == [
        'payment_processing_duration_ms_bucket{service="payment",le="50"} 0.0',
        'payment_processing_duration_ms_bucket{service="payment",le="100"} 0.0',
        'payment_processing_duration_ms_bucket{service="payment",le="250"} 0.0',
        'payment_processing_duration_ms_bucket{service="payment",le="500"} 0.0',
        'payment_processing_duration_ms_bucket{service="payment",le="1000"} 1.0',
        'payment_processing_duration_ms_bucket{service="payment",le="2500"} 1.0',
        'payment_processing_duration_ms_bucket{service="payment",le="5000"} 1.0',
        'payment_processing_duration_ms_bucket{service="payment",le="10000"} 1.0',
        'payment_processing_duration_ms_bucket{service="payment",le="30000"} 1.0',
        'payment_processing_duration_ms_bucket{service="payment",le="+Inf"} 1.0',
        'payment_processing_duration_ms_sum{service="payment"} 700.0',
        'payment_processing_duration_ms_count{service="payment"} 1.0',
    ]


def test_label_values_are_escaped(client: Client, push: Push) -> None:
    push([{"metric": "errors_total", "labels": {"type": 'say "hi"\\\n'}, "value": 1}])
    assert 'errors_total{service="payment",type="say \\"hi\\"\\\\\\n"} 1.0' in text_of(client)


def test_the_series_part_is_cached_for_a_few_seconds(
    client: Client, push: Push, clock: Any
) -> None:
    push([{"metric": "active_users", "value": 10}])
    assert 'active_users{service="payment"} 10.0' in text_of(client)
    push([{"metric": "active_users", "value": 11}])
    assert 'active_users{service="payment"} 10.0' in text_of(client)
    exposition.invalidate()  # what expiry does after METRICS_CACHE_SECONDS
    assert 'active_users{service="payment"} 11.0' in text_of(client)


def test_the_service_own_request_and_process_metrics_are_included(client: Client) -> None:
    text_of(client)
    text = text_of(client)
    assert "django_http_requests_total_by_view_transport_method_total" in text
    assert re.search(r"^process_resident_memory_bytes \S+$", text, re.MULTILINE)


class RowsCollector:
    def describe(self) -> list[Any]:
        return []

    def collect(self) -> Iterator[Any]:
        family = GaugeMetricFamily("test_rows_open", "Rows open.", labels=["kind"])
        family.add_metric(["demo"], 3)
        yield family


def test_a_registered_collector_is_rendered_and_a_failing_one_is_left_out(client: Client) -> None:
    class Broken(RowsCollector):
        def collect(self) -> Iterator[Any]:
            raise RuntimeError("database gone")

    good, broken = RowsCollector(), Broken()
    exposition.register_collector(good)
    exposition.register_collector(good)  # idempotent
    exposition.register_collector(broken)
    try:
        text = text_of(client)
    finally:
        exposition._collectors.remove(good)
        exposition._collectors.remove(broken)
        exposition._rows_registry.unregister(good)
        exposition._rows_registry.unregister(broken)
    assert text.count('test_rows_open{kind="demo"} 3.0') == 1


def test_job_runs_are_exported_from_rows(client: Client, clock: Any) -> None:
    run_job("metrics.aggregate")
    clock.shift(timedelta(minutes=5))
    run_job("metrics.aggregate")
    JobRun.objects.create(job="metrics.host", started_at=NOW, outcome=JobRun.Outcome.FAILURE)
    text = text_of(client)
    assert 'monitoring_job_runs_total{job="metrics.aggregate",outcome="success"} 2.0' in text
    assert 'monitoring_job_runs_total{job="metrics.host",outcome="failure"} 1.0' in text
    last = NOW + timedelta(minutes=5)
    found = re.search(
        r'^monitoring_job_last_success_timestamp_seconds\{job="metrics.aggregate"\} (\S+)$',
        text,
        re.MULTILINE,
    )
    assert found and float(found.group(1)) == last.timestamp()
    assert 'monitoring_job_duration_seconds_count{job="metrics.aggregate"} 2.0' in text


def _every_metric_once(now: Any) -> list[Any]:
    from metrics_app.ingest import parse_samples

    raw: list[dict[str, object]] = []
    for spec in CATALOGUE:
        labels = {name: "x" for name in spec.labels if name != "service"}
        if spec.type in ("histogram", "summary"):
            raw.append({"metric": spec.name, "labels": labels, "observations": [1, 2000]})
        else:
            raw.append({"metric": spec.name, "labels": labels, "value": 2})
    samples, errors = parse_samples(raw, now=now, service="payment", multi_service=False)
    assert errors == {}
    return samples


DOCUMENTED_LINT = {
    f"{spec.name} metric names should not contain abbreviated units"
    for spec in CATALOGUE
    if spec.name.endswith("_ms")
}


def test_promtool_accepts_the_exposition_except_the_documented_unit_lint(client: Client) -> None:
    promtool = require_binary("promtool", "/usr/bin/promtool")
    store_samples(samples=_every_metric_once(NOW), now=NOW)
    sample_host(now=NOW, cpu_interval=0)
    run_job("metrics.aggregate")
    text = text_of(client)
    result = subprocess.run(
        [promtool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=60
    )
    problems = {line.strip() for line in (result.stdout + result.stderr).splitlines() if line}
    assert problems == DOCUMENTED_LINT
    assert "system_cpu_usage_percent{" in text
