"""``simulate_platform --record``: every batch pushed, with its time and what became of it."""

from __future__ import annotations

import io
import json
import time
from typing import Any

from demo.simulator import Pusher
from tests.support.fake_vendors import Answer, FakeServer, RecordedRequest


class IngestServer(FakeServer):
    """Answers the ingest API's 202 with the number of samples, or what it is told to."""

    def handle(self, request: RecordedRequest) -> Answer:
        accepted = len(request.json()["samples"])
        body = json.dumps({"accepted": accepted}).encode()
        return 202, {"Content-Type": "application/json"}, body


SAMPLES: list[dict[str, Any]] = [
    {"metric": "tickets_sold_total", "labels": {"service": "ticket"}, "value": 4},
    {"metric": "queue_size", "labels": {"service": "queue", "queue": "mint"}, "value": 12.0},
    {"metric": "payment_processing_duration_ms", "labels": {}, "observations": [310.5, 402.1]},
]


def test_each_batch_is_recorded_with_its_time_outcome_and_samples_as_sent() -> None:
    record = io.StringIO()
    with IngestServer() as server:
        pusher = Pusher(base_url=server.url, token="t", out=lambda line: None, record=record)
        before = time.time()
        pusher.push(SAMPLES)
        server.fail(400, body='{"status": 400}')
        pusher.push(SAMPLES[:1])
    lines = [json.loads(line) for line in record.getvalue().splitlines()]
    assert [line["outcome"] for line in lines] == ["accepted", "refused"]
    assert lines[0]["samples"] == SAMPLES and lines[1]["samples"] == SAMPLES[:1]
    assert before <= lines[0]["sent_at"] <= lines[0]["answered_at"] <= lines[1]["sent_at"]
    assert (pusher.counts.accepted, pusher.counts.refused) == (3, 1)


def test_a_batch_that_never_arrives_is_recorded_as_undelivered() -> None:
    record = io.StringIO()
    with IngestServer() as server:
        url = server.url
    pusher = Pusher(base_url=url, token="t", out=lambda line: None, timeout=2, record=record)
    pusher.push(SAMPLES[:1])
    (line,) = [json.loads(line) for line in record.getvalue().splitlines()]
    assert line["outcome"] == "undelivered" and pusher.counts.undelivered == 1


def test_without_a_record_nothing_is_written_and_pushing_works_as_before() -> None:
    with IngestServer() as server:
        pusher = Pusher(base_url=server.url, token="t", out=lambda line: None)
        pusher.push(SAMPLES)
    assert pusher.record is None and pusher.counts.accepted == 3
    assert server.requests[0].header("authorization") == "Bearer t"
