"""Log shipping to Elasticsearch through the bulk API: what goes, where, and through an outage."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from django.utils import timezone

from monitoring_site import shipping
from monitoring_site.outages import read_shared
from monitoring_site.shipping import Shipper
from tests.support.fake_elasticsearch import ElasticsearchServer

pytestmark = pytest.mark.django_db


@pytest.fixture
def elastic() -> Iterator[ElasticsearchServer]:
    with ElasticsearchServer() as server:
        yield server


def wait_for(check: Callable[[], Any], timeout: float = 5.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := check():
            return value
        time.sleep(0.02)
    raise AssertionError("not within the time")


def today(kind: str) -> str:
    return f"mon-{kind}-{datetime.now(UTC):%Y.%m.%d}"


@pytest.fixture
def installed(elastic: ElasticsearchServer) -> Iterator[Shipper]:
    active = shipping.install(
        node=elastic.url, api_key="c2VjcmV0LWtleQ==", prefix="mon", flush_seconds=0.05, timeout=1
    )
    yield active
    shipping.uninstall()


def test_logs_alert_events_and_attempts_reach_their_daily_indices(
    installed: Shipper,
    elastic: ElasticsearchServer,
    django_capture_on_commit_callbacks: Any,
) -> None:
    from alerts.models import Alert, AlertEvent, Notification, NotificationAttempt
    from alerts.models import NotificationChannel as Channel

    logging.getLogger("alerts.engine").warning("rule failed", extra={"alert": 7, "rule": "cpu"})
    now = timezone.now()
    channel = Channel.objects.create(name="Ops", kind="webhook", config={})
    with django_capture_on_commit_callbacks(execute=True):
        alert = Alert.objects.create(fingerprint="f", rule_name="cpu", started_at=now)
        AlertEvent.objects.create(alert=alert, kind="firing", actor="engine", at=now, details={})
        note = Notification.objects.create(
            alert=alert, channel=channel, kind="firing", due_at=now, created_at=now
        )
        NotificationAttempt.objects.create(
            notification=note, channel=channel, at=now, outcome="delivered", status=200
        )
    wait_for(lambda: len(elastic.indices) >= 3 and elastic.indices[today("notification-attempts")])
    [log] = [d for d in elastic.indices[today("logs")] if d["message"] == "rule failed"]
    assert (log["level"], log["logger"], log["alert"], log["rule"]) == (
        "WARNING",
        "alerts.engine",
        7,
        "cpu",
    )
    assert log["kind"] == "log" and log["host"] and log["@timestamp"].startswith(f"{now:%Y-%m-%d}")
    [event] = elastic.indices[today("alert-events")]
    assert (event["alert_id"], event["event"], event["actor"]) == (alert.pk, "firing", "engine")
    [attempt] = elastic.indices[today("notification-attempts")]
    assert (attempt["notification_id"], attempt["outcome"], attempt["status"]) == (
        note.pk,
        "delivered",
        200,
    )
    bulk = next(r for r in elastic.requests if r.path == "/_bulk")
    assert bulk.header("authorization") == "ApiKey c2VjcmV0LWtleQ=="
    assert "x-ndjson" in (bulk.header("content-type") or "")


def test_an_index_template_types_the_fields_before_the_first_batch(
    installed: Shipper, elastic: ElasticsearchServer
) -> None:
    logging.getLogger("health.rounds").info("round done")
    wait_for(lambda: elastic.documents("mon-logs"))
    template = elastic.templates["mon"]
    assert template["index_patterns"] == ["mon-*"]
    properties = template["template"]["mappings"]["properties"]
    assert properties["@timestamp"] == {"type": "date"}
    assert properties["duration_ms"] == {"type": "float"}
    assert properties["alert_id"] == {"type": "long"}
    paths = [r.path for r in elastic.requests]
    assert paths.index("/_index_template/mon") < paths.index("/_bulk")


def test_an_outage_keeps_the_newest_documents_within_the_bound_and_counts_the_drops(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with ElasticsearchServer() as first:
        port = first.port
    dropped_before = read_shared("elasticsearch", "dropped")
    failures_before = read_shared("elasticsearch", "failures")
    shipper = Shipper(
        node=f"http://127.0.0.1:{port}", prefix="mon", capacity=5, timeout=1, background=False
    )
    caplog.set_level(logging.WARNING, logger="monitoring_site.outages")
    for number in range(12):
        shipper.submit("logs", {"message": f"line {number}"})
    assert (shipper.pending(), shipper.dropped) == (5, 7)
    assert shipper.flush_once() == 0  # connection refused: the batch stays queued
    assert shipper.flush_once() == 0
    assert shipper.pending() == 5
    assert read_shared("elasticsearch", "dropped") - dropped_before == 7
    assert read_shared("elasticsearch", "failures") - failures_before == 10
    with ElasticsearchServer(port=port) as back:
        assert shipper.flush_once() == 5
        assert [d["message"] for d in back.documents()] == [f"line {n}" for n in range(7, 12)]
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2, lines  # one when it went down, one when it came back
    assert lines[0].startswith("elasticsearch unreachable: ConnectionError")
    assert lines[1].startswith("elasticsearch reachable again after")


def test_submitting_never_blocks_while_elasticsearch_hangs(elastic: ElasticsearchServer) -> None:
    elastic.hang(seconds=10, times=5)
    shipper = Shipper(node=elastic.url, prefix="mon", batch_size=10, flush_seconds=0.01, timeout=1)
    started = time.monotonic()
    for number in range(2000):
        shipper.submit("logs", {"message": f"line {number}"})
    assert time.monotonic() - started < 0.5
    wait_for(lambda: elastic.requests)  # the sender is stuck in a request meanwhile
    started = time.monotonic()
    shipper.close()
    assert time.monotonic() - started < 1 + 1 + 1 + 0.5  # join, then at most one more timeout


def test_shutdown_flushes_what_is_queued(elastic: ElasticsearchServer) -> None:
    shipper = Shipper(node=elastic.url, prefix="mon", flush_seconds=60, timeout=1)
    for number in range(3):
        shipper.submit("alert-events", {"event": "firing", "alert_id": number})
    assert elastic.documents() == []
    shipper.close()
    assert [d["alert_id"] for d in elastic.documents("mon-alert-events")] == [0, 1, 2]


def test_a_document_elasticsearch_rejects_is_counted_and_the_rest_kept(
    elastic: ElasticsearchServer,
) -> None:
    elastic.reject = "unparseable"
    shipper = Shipper(node=elastic.url, prefix="mon", background=False, timeout=1)
    before = read_shared("elasticsearch", "rejected")
    for message in ("fine", "unparseable", "also fine"):
        shipper.submit("logs", {"message": message})
    assert shipper.flush_once() == 2
    assert [d["message"] for d in elastic.documents()] == ["fine", "also fine"]
    assert read_shared("elasticsearch", "rejected") - before == 1
    assert shipper.pending() == 0


def test_shipping_is_off_without_a_node(settings: Any) -> None:
    settings.ELASTICSEARCH_NODE = ""
    assert shipping.install_from_settings() is None
    assert shipping.shipper() is None
    assert not any(isinstance(h, shipping.ShippingHandler) for h in logging.getLogger().handlers)
