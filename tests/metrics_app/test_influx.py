"""The optional InfluxDB export, against an HTTP server on 127.0.0.1 speaking /api/v2/write."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from metrics_app import tasks
from metrics_app.catalogue import get_metric
from metrics_app.influx import export_rollups
from metrics_app.ingest import Sample
from metrics_app.models import Rollup
from metrics_app.services import store_samples

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 11, 29, 10, 0, tzinfo=UTC)
# measurement[,tag=value...] count=<int>i,sum=<float>,min=...,max=...,last=... <unix seconds>
LINE = re.compile(
    r"^(?P<measurement>(?:[^,\s\\]|\\.)+)(?P<tags>(?:,(?:[^,=\s\\]|\\.)+=(?:[^,\s\\]|\\.)+)*) "
    r"count=(?P<count>\d+)i,sum=(?P<sum>[-\d.e+]+),min=[-\d.e+]+,max=[-\d.e+]+,last=[-\d.e+]+ "
    r"(?P<ts>\d+)$"
)


class InfluxServer:
    """Accepts well-formed line protocol with the right token (204); can be told to fail."""

    def __init__(self) -> None:
        self.points: list[dict[str, str]] = []
        self.requests = 0
        self.fail_next = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"])).decode()
                outer.requests += 1
                self.send_response(outer.answer(self.path, dict(self.headers), body))
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def answer(self, path: str, headers: dict[str, str], body: str) -> int:
        if self.fail_next:
            self.fail_next -= 1
            return 503
        url = urlsplit(path)
        query = parse_qs(url.query)
        if url.path != "/api/v2/write" or headers.get("Authorization") != "Token influx-token":
            return 401
        if query != {"org": ["tickettoken"], "bucket": ["metrics"], "precision": ["s"]}:
            return 400
        matches = [LINE.match(line) for line in body.split("\n")]
        if not all(matches):
            return 400
        self.points.extend(match.groupdict() for match in matches if match)
        return 204

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def influx(settings: Any) -> Iterator[InfluxServer]:
    server = InfluxServer()
    settings.INFLUXDB_URL = server.url
    settings.INFLUXDB_TOKEN = "influx-token"
    settings.INFLUXDB_ORG = "tickettoken"
    settings.INFLUXDB_BUCKET = "metrics"
    settings.INFLUXDB_TIMEOUT = 2
    yield server
    server.close()


def seed(minutes: int = 12) -> None:
    spec = get_metric("errors_total")
    assert spec is not None
    for minute in range(minutes):
        at = T0 + timedelta(minutes=minute)
        labels = {"service": "api gateway", "type": "a,b=c"}
        store_samples(samples=[Sample(spec, labels, (2.0,), at)], now=at)


def aggregate_at(now: datetime) -> dict[str, Any]:
    import time_machine

    with time_machine.travel(now, tick=False):
        return tasks.aggregate()


def test_new_five_minute_rollups_are_written_as_line_protocol(influx: InfluxServer) -> None:
    seed()
    result = aggregate_at(T0 + timedelta(minutes=13))
    assert result["influxdb"] == {"exported": 3}
    assert [(p["measurement"], p["tags"], p["count"], p["sum"]) for p in influx.points] == [
        ("errors_total", r",service=api\ gateway,type=a\,b\=c", str(n), f"{2.0 * n!r}")
        for n in (5, 5, 2)
    ]
    assert [int(p["ts"]) for p in influx.points] == [
        int((T0 + timedelta(minutes=m)).timestamp()) for m in (0, 5, 10)
    ]
    assert not Rollup.objects.filter(resolution=300, exported=False).exists()


def test_rows_are_sent_in_batches(influx: InfluxServer, settings: Any) -> None:
    settings.INFLUXDB_BATCH_SIZE = 2
    seed()
    aggregate_at(T0 + timedelta(minutes=13))
    assert (influx.requests, len(influx.points)) == (2, 3)


def test_an_outage_keeps_local_rollups_and_is_retried_on_the_next_run(
    influx: InfluxServer,
) -> None:
    seed()
    influx.fail_next = 1
    result = aggregate_at(T0 + timedelta(minutes=13))
    assert result["rollups"]["300s"] == 3
    assert "503" in result["influxdb"]["error"]
    assert Rollup.objects.filter(resolution=300, exported=False).count() == 3
    # Next run: nothing new to recompute, the pending rows go out.
    result = aggregate_at(T0 + timedelta(minutes=18))
    assert result["influxdb"] == {"exported": 3}
    assert len(influx.points) == 3


def test_an_unreachable_influxdb_never_breaks_the_aggregation(settings: Any) -> None:
    settings.INFLUXDB_URL = "http://127.0.0.1:9"
    settings.INFLUXDB_TOKEN, settings.INFLUXDB_ORG, settings.INFLUXDB_BUCKET = "t", "o", "b"
    settings.INFLUXDB_TIMEOUT = 1
    seed(3)
    result = aggregate_at(T0 + timedelta(minutes=4))
    assert result["rollups"]["300s"] == 1
    assert "unreachable" in result["influxdb"]["error"]


def test_a_recomputed_period_is_sent_again(influx: InfluxServer) -> None:
    seed(3)
    aggregate_at(T0 + timedelta(minutes=4))
    spec = get_metric("errors_total")
    assert spec is not None
    late = Sample(spec, {"service": "api gateway", "type": "a,b=c"}, (10.0,), T0)
    store_samples(samples=[late], now=T0 + timedelta(minutes=6))
    aggregate_at(T0 + timedelta(minutes=8))
    assert [p["sum"] for p in influx.points] == ["6.0", "16.0"]


def test_without_influxdb_url_nothing_is_exported(settings: Any) -> None:
    settings.INFLUXDB_URL = ""
    seed(2)
    assert "influxdb" not in aggregate_at(T0 + timedelta(minutes=3))
    assert export_rollups() == {"exported": 0, "skipped": "INFLUXDB_URL not set"}
