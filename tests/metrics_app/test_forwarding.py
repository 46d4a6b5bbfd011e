"""Remote write forwarding: ingest batches reach a Prometheus-compatible backend as counters.

Real Prometheus and VictoriaMetrics servers (Debian's packages) receive what the ingest API
accepted; a recording HTTP server on 127.0.0.1 plays a receiver that fails. The servers refuse
old samples, so these tests run on the real clock (only the backoff is travelled past).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.utils import timezone

from metrics_app.forwarding import forward_pending
from metrics_app.models import RemoteWriteBatch, RemoteWriteProgress, Series
from metrics_app.remote_write import decode_write_request
from tests.metrics_app.conftest import Push
from tests.support.fake_vendors import WebhookReceiver
from tests.support.tsdb import Prometheus, VictoriaMetrics

pytestmark = pytest.mark.django_db


@pytest.fixture
def receiver(settings: Any) -> Any:
    server = WebhookReceiver().start()
    settings.METRICS_BACKEND = "prometheus"
    settings.METRICS_REMOTE_WRITE_URL = server.url + "/api/v1/write"
    yield server
    server.stop()


def _forward_to(settings: Any, server: Prometheus | VictoriaMetrics) -> None:
    settings.METRICS_BACKEND = "prometheus"
    settings.METRICS_REMOTE_WRITE_URL = server.remote_write_url


def _raw_values(server: Prometheus | VictoriaMetrics, selector: str) -> list[float]:
    """Every stored sample of one series within the last five minutes, oldest first."""
    deadline = time.monotonic() + 20
    while True:
        result = server.query(f"{selector}[5m]")["result"]
        if result or time.monotonic() > deadline:
            break
        time.sleep(0.25)
    assert len(result) == 1, result
    return [float(value) for _, value in result[0]["values"]]


@pytest.mark.parametrize("server_class", [Prometheus, VictoriaMetrics])
def test_counter_increments_pushed_here_arrive_there_as_a_growing_counter(
    tmp_path: Path, settings: Any, push: Push, server_class: type[Prometheus]
) -> None:
    with server_class(tmp_path) as server:
        _forward_to(settings, server)
        for increment in (2, 3, 5):
            assert push([{"metric": "tickets_sold_total", "value": increment}]).status_code == 202
            assert forward_pending() == {"sent": 1, "rejected": 0}
            time.sleep(0.01)  # distinct sample times, a millisecond apart at least

        values = _raw_values(server, 'tickets_sold_total{service="payment"}')

    assert values == [2.0, 5.0, 10.0]
    assert RemoteWriteBatch.objects.count() == 0
    progress = RemoteWriteProgress.objects.get()
    assert (progress.sent_batches, progress.sent_samples, progress.rejected_batches) == (3, 3, 0)


@pytest.mark.parametrize("server_class", [Prometheus, VictoriaMetrics])
def test_a_histogram_batch_is_queryable_there_as_buckets_sum_and_count(
    tmp_path: Path, settings: Any, push: Push, server_class: type[Prometheus]
) -> None:
    with server_class(tmp_path) as server:
        _forward_to(settings, server)
        sample = {"metric": "payment_processing_duration_ms", "observations": [20, 400, 3000]}
        assert push([sample]).status_code == 202
        assert forward_pending()["sent"] == 1

        count = server.wait_for('payment_processing_duration_ms_count{service="payment"}')
        total = server.wait_for('payment_processing_duration_ms_sum{service="payment"}')
        buckets = server.wait_for("payment_processing_duration_ms_bucket")

    assert float(count[0]["value"][1]) == 3.0
    assert float(total[0]["value"][1]) == pytest.approx(3420.0)
    inf = [row for row in buckets if row["metric"]["le"] == "+Inf"]
    assert float(inf[0]["value"][1]) == 3.0
    stored = Series.objects.filter(name="payment_processing_duration_ms_bucket").count()
    assert len(buckets) == stored


def test_a_late_sample_still_reaches_prometheus_after_a_newer_one(
    tmp_path: Path, settings: Any, push: Push
) -> None:
    """Prometheus refuses a whole request with one sample older than it holds for the series."""
    late = (datetime.now(UTC) - timedelta(seconds=30)).isoformat()
    with Prometheus(tmp_path) as server:
        _forward_to(settings, server)
        assert push([{"metric": "tickets_sold_total", "value": 4}]).status_code == 202
        assert forward_pending() == {"sent": 1, "rejected": 0}
        late_sample = {"metric": "tickets_sold_total", "value": 1, "timestamp": late}
        assert push([late_sample]).status_code == 202
        assert forward_pending() == {"sent": 1, "rejected": 0}

        values = _raw_values(server, 'tickets_sold_total{service="payment"}')

    assert values == [4.0, 5.0]


def test_the_embedded_backend_forwards_nothing(push: Push, settings: Any) -> None:
    settings.METRICS_REMOTE_WRITE_URL = "http://127.0.0.1:9/api/v1/write"
    assert settings.METRICS_BACKEND == "embedded"

    assert push([{"metric": "tickets_sold_total", "value": 1}]).status_code == 202

    assert RemoteWriteBatch.objects.count() == 0
    assert Series.objects.get(name="tickets_sold_total").remote_ts is None
    assert "skipped" in forward_pending()


def test_each_batch_carries_cumulative_values_at_strictly_later_times(
    receiver: WebhookReceiver, push: Push, settings: Any
) -> None:
    settings.METRICS_REMOTE_WRITE_TOKEN = "rw-secret"
    at = datetime.now(UTC).replace(microsecond=0).isoformat()
    for value in (1, 2):
        sample = {"metric": "tickets_sold_total", "value": value, "timestamp": at}
        assert push([sample, {"metric": "active_users", "value": 7 + value}]).status_code == 202

    assert forward_pending() == {"sent": 2, "rejected": 0}

    requests_ = receiver.answered(200)
    assert [r.header("content-encoding") for r in requests_] == ["snappy", "snappy"]
    assert requests_[0].header("authorization") == "Bearer rw-secret"
    first, second = (
        {labels["__name__"]: points for labels, points in decode_write_request(r.body)}
        for r in requests_
    )
    (first_total, first_ms), (second_total, second_ms) = (
        first["tickets_sold_total"][0],
        second["tickets_sold_total"][0],
    )
    assert (first_total, second_total) == (1.0, 3.0)
    assert second_ms == first_ms + 1  # same sample time: moved a millisecond later
    assert first_ms == int(datetime.fromisoformat(at).timestamp() * 1000)
    assert [first["active_users"][0][0], second["active_users"][0][0]] == [8.0, 9.0]


def test_a_receiver_outage_keeps_the_batch_and_backs_off_until_it_is_retried(
    receiver: WebhookReceiver, push: Push
) -> None:
    receiver.fail(503, times=1)
    assert push([{"metric": "tickets_sold_total", "value": 1}]).status_code == 202

    failed = forward_pending()
    again = forward_pending()

    assert failed["sent"] == 0 and "503" in failed["error"]
    assert "skipped" in again  # backing off: no second request
    assert len(receiver.requests) == 1
    batch = RemoteWriteBatch.objects.get()
    assert (batch.attempts, "503" in batch.last_error) == (1, True)
    progress = RemoteWriteProgress.objects.get()
    assert progress.failures == 1 and progress.retry_at is not None
    with time_machine.travel(progress.retry_at + timedelta(seconds=1), tick=True):
        assert forward_pending() == {"sent": 1, "rejected": 0}
    assert RemoteWriteBatch.objects.count() == 0
    assert RemoteWriteProgress.objects.get().failures == 0
    assert receiver.requests[0].body == receiver.requests[1].body


def test_an_unreachable_receiver_is_a_failure_to_retry_not_a_crash(
    settings: Any, push: Push
) -> None:
    settings.METRICS_BACKEND = "prometheus"
    settings.METRICS_REMOTE_WRITE_URL = "http://127.0.0.1:9/api/v1/write"
    assert push([{"metric": "tickets_sold_total", "value": 1}]).status_code == 202

    outcome = forward_pending()

    assert outcome["sent"] == 0 and "unreachable" in outcome["error"]
    assert RemoteWriteBatch.objects.count() == 1


def test_a_batch_the_receiver_refuses_as_bad_is_dropped_and_the_next_is_sent(
    receiver: WebhookReceiver, push: Push
) -> None:
    receiver.fail(400, times=1, body="out of bounds")
    push([{"metric": "tickets_sold_total", "value": 1}])
    push([{"metric": "tickets_sold_total", "value": 2}])

    assert forward_pending() == {"sent": 1, "rejected": 1}

    progress = RemoteWriteProgress.objects.get()
    assert (progress.rejected_batches, progress.sent_batches) == (1, 1)
    assert "400" in progress.last_error and "out of bounds" in progress.last_error
    assert RemoteWriteBatch.objects.count() == 0


def test_the_queue_is_bounded_and_drops_the_oldest_batches(
    receiver: WebhookReceiver, push: Push, settings: Any
) -> None:
    settings.METRICS_REMOTE_WRITE_QUEUE_BATCHES = 2
    for value in (1, 2, 3, 4):
        assert push([{"metric": "tickets_sold_total", "value": value}]).status_code == 202

    assert RemoteWriteBatch.objects.count() == 2
    progress = RemoteWriteProgress.objects.get()
    assert (progress.dropped_batches, progress.dropped_samples) == (2, 2)
    assert forward_pending() == {"sent": 2, "rejected": 0}
    totals = [decode_write_request(r.body)[0][1][0][0] for r in receiver.requests]
    assert totals == [6.0, 10.0]  # the newest two batches, with the running total


def test_one_forwarder_sends_at_a_time(receiver: WebhookReceiver, push: Push) -> None:
    push([{"metric": "tickets_sold_total", "value": 1}])
    RemoteWriteProgress.objects.create(
        holder="other-host:1:abc", lease_until=timezone.now() + timedelta(seconds=60)
    )

    assert "skipped" in forward_pending()
    assert receiver.requests == []


def test_metrics_show_the_queue_and_what_was_sent_refused_and_dropped(
    receiver: WebhookReceiver, push: Push, settings: Any, client: Any
) -> None:
    settings.METRICS_CACHE_SECONDS = 0
    settings.METRICS_REMOTE_WRITE_QUEUE_BATCHES = 2
    receiver.fail(400, times=1)
    for value in (1, 2, 3):  # the first is dropped: the queue holds two
        push([{"metric": "tickets_sold_total", "value": value}])
    forward_pending()  # the second is refused (400), the third sent
    push([{"metric": "tickets_sold_total", "value": 4}])  # waits in the queue

    text = client.get("/metrics", REMOTE_ADDR="127.0.0.1").content.decode()

    for line in (
        "monitoring_remote_write_queue_batches 1.0",
        'monitoring_remote_write_batches_total{outcome="sent"} 1.0',
        'monitoring_remote_write_batches_total{outcome="rejected"} 1.0',
        'monitoring_remote_write_batches_total{outcome="dropped"} 1.0',
        'monitoring_remote_write_samples_total{outcome="sent"} 1.0',
        "monitoring_remote_write_failures 0.0",
    ):
        assert line in text.splitlines(), line
    assert "monitoring_remote_write_last_success_timestamp_seconds " in text


def test_metrics_say_nothing_of_remote_write_while_it_is_off(client: Any, settings: Any) -> None:
    settings.METRICS_CACHE_SECONDS = 0
    text = client.get("/metrics", REMOTE_ADDR="127.0.0.1").content.decode()
    assert "monitoring_remote_write" not in text
