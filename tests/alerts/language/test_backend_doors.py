"""The doors that read through the metrics backend (issue #20): the query API, backtests and the
rule preview, anomaly detectors' history, validation's discovery, and the credentials sent.

Against real Prometheus and VictoriaMetrics servers holding the scenario's samples (fixtures in
conftest.py); values agree with the embedded store's within 2 % (see test_backends.py).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.conf import LazySettings
from rest_framework.test import APIClient

from alerts.anomalies.series import history
from alerts.language import backtest, evaluate_many, parse
from alerts.language.backends import (
    EmbeddedBackend,
    PrometheusBackend,
)
from alerts.models import Rule
from metrics_app import backend as remote
from metrics_app.aggregation import recompute_rollups
from tests.alerts.language.backend_scenario import (
    SERVICES,
    TOLERANCE,
    Scenario,
)
from tests.support.tsdb import VictoriaMetrics, free_port

Outcome = dict[tuple[str, tuple[tuple[str, str], ...]], tuple[str, float | None]]


# --- the doors that read through the backend ---------------------------------------------------

QUERY = "/api/v1/monitoring/query"


def test_the_query_api_answers_from_the_backend_as_from_the_embedded_store(
    scenario: Scenario,
    victoria: VictoriaMetrics,
    use_backend: Callable[[str], None],
    viewer_client: APIClient,
) -> None:
    scenario.store_embedded()
    body = {"expression": "sum by (service) (rate(tickets_sold_total[5m]))"}
    body["time"] = scenario.at.isoformat()
    here = viewer_client.post(QUERY, body, format="json")
    use_backend(victoria.url)
    there = viewer_client.post(QUERY, body, format="json")
    assert here.status_code == there.status_code == 200, there.json()
    ours = {item["labels"]["service"]: item["value"] for item in here.json()["result"]}
    theirs = {item["labels"]["service"]: item["value"] for item in there.json()["result"]}
    assert sorted(theirs) == sorted(ours) == list(SERVICES)
    for service, value in ours.items():
        assert math.isclose(theirs[service], value, rel_tol=TOLERANCE)
    assert math.isclose(ours["gamma"], 5 / 15, rel_tol=TOLERANCE)  # 5 per push, every 15 s


def test_the_query_api_and_the_preview_answer_503_when_the_backend_is_down(
    use_backend: Callable[[str], None],
    viewer_client: APIClient,
    make_rule: Callable[..., Rule],
) -> None:
    rule = make_rule(expression="max(queue_size)", threshold=10)
    use_backend(f"http://127.0.0.1:{free_port()}")
    response = viewer_client.post(QUERY, {"expression": "max(queue_size)"}, format="json")
    assert response.status_code == 503
    assert response.json()["code"] == "metrics_backend_unavailable"
    assert "unreachable" in response.json()["message"]
    preview = viewer_client.post(f"/api/v1/monitoring/alerts/rules/{rule.pk}/preview?range=1h")
    assert preview.status_code == 503
    assert preview.json()["code"] == "metrics_backend_unavailable"


@pytest.mark.parametrize("server", ["prometheus", "victoria", "victoria_cached"])
def test_a_backtest_through_the_backend_gives_the_embedded_store_s_values_at_every_step(
    server: str, scenario: Scenario, request: pytest.FixtureRequest, db: Any
) -> None:
    database = request.getfixturevalue(server)
    scenario.store_embedded()
    config = remote.BackendConfig(database.url, "", "", "", 3.0, 10.0, True)
    backend = PrometheusBackend(remote.PrometheusClient(config))
    expr = (
        "max by (service) (max_over_time(queue_size[5m])) "
        "+ sum by (service) (increase(tickets_sold_total[5m]))"
    )
    # 61 steps: more than the 50 points past which VictoriaMetrics' cache would move the start.
    window = {"start": scenario.at - timedelta(minutes=60), "end": scenario.at}
    step = timedelta(minutes=1)
    here = backtest(expr, **window, step=step, backend=EmbeddedBackend())
    there = backtest(expr, **window, step=step, backend=backend)
    assert backend.queries == 2  # one range query per selector group, for all 61 steps
    assert [moment for moment, _ in there] == [moment for moment, _ in here]
    # Where every window lies inside the 30 minutes of data (a partial window at its start is
    # extrapolated by Prometheus).
    full = [(m, a, b) for (m, a), (_, b) in zip(here, there, strict=True)]
    full = [item for item in full if item[0] >= scenario.at - timedelta(minutes=24)]
    assert len(full) == 25
    for moment, mine, theirs in full:
        ours = {s.labels["service"]: s.value for s in mine.samples}  # type: ignore[union-attr]
        other = {s.labels["service"]: s.value for s in theirs.samples}  # type: ignore[union-attr]
        assert sorted(other) == sorted(ours) == list(SERVICES), moment
        for service, value in ours.items():
            assert math.isclose(other[service], value, rel_tol=TOLERANCE), (moment, service)


def test_the_rule_preview_replays_the_same_episodes_through_the_backend(
    scenario: Scenario,
    victoria: VictoriaMetrics,
    use_backend: Callable[[str], None],
    make_rule: Callable[..., Rule],
    viewer_client: APIClient,
) -> None:
    scenario.store_embedded()
    rule = make_rule(
        expression="max_over_time(queue_size[5m])", threshold=150, for_seconds=60, channels=[]
    )
    path = f"/api/v1/monitoring/alerts/rules/{rule.pk}/preview?range=1h"
    here = viewer_client.post(path).json()
    use_backend(victoria.url)
    there = viewer_client.post(path)
    assert there.status_code == 200, there.json()
    # The steps are taken from the clock (end = now, by the minute), where a minute-aligned
    # window and PromQL's exact one may differ by a minute of samples: a rising queue crosses
    # the threshold at the same step or the next one (and the two previews' clocks differ by
    # the time between the requests).
    ours, theirs = here["episodes"], there.json()["episodes"]
    assert [e["labels"] for e in theirs] == [e["labels"] for e in ours]
    assert ours and ours[0]["labels"] == {"service": "alpha", "queue": "orders"}
    for mine, other in zip(ours, theirs, strict=True):
        gap = datetime.fromisoformat(other["fired_at"]) - datetime.fromisoformat(mine["fired_at"])
        assert abs(gap) <= timedelta(minutes=1, seconds=10), (mine, other)


# --- authentication -----------------------------------------------------------------------------


class _Recording(BaseHTTPRequestHandler):
    seen: list[dict[str, str]] = []

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        type(self).seen.append({k.lower(): v for k, v in self.headers.items()})
        body = b'{"status": "success", "data": {"resultType": "vector", "result": []}}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def recording_backend() -> Iterator[tuple[str, list[dict[str, str]]]]:
    seen: list[dict[str, str]] = []
    handler = type("Handler", (_Recording,), {"seen": seen})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", seen
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(
    ("credentials", "header"),
    [
        ({"METRICS_BACKEND_TOKEN": "s3cret-token"}, "Bearer s3cret-token"),
        (
            {"METRICS_BACKEND_USERNAME": "rules", "METRICS_BACKEND_PASSWORD": "pa55"},
            "Basic cnVsZXM6cGE1NQ==",
        ),
        ({}, None),
    ],
)
def test_the_backend_is_asked_with_the_configured_credentials(
    credentials: dict[str, str],
    header: str | None,
    recording_backend: tuple[str, list[dict[str, str]]],
    use_backend: Callable[[str], None],
    settings: LazySettings,
    db: Any,
) -> None:
    url, seen = recording_backend
    use_backend(url)
    for name, value in credentials.items():
        setattr(settings, name, value)
    evaluate_many(["max(queue_size)"], at=datetime.now(UTC))
    [headers] = seen
    assert headers.get("authorization") == header


# --- anomaly detection --------------------------------------------------------------------------


@pytest.mark.parametrize("server", ["prometheus", "victoria"])
def test_an_anomaly_detector_s_history_through_the_backend_is_the_embedded_store_s(
    server: str,
    scenario: Scenario,
    request: pytest.FixtureRequest,
    use_backend: Callable[[str], None],
    db: Any,
) -> None:
    """The embedded history comes from 5-minute rollups; the backend's from one range query."""
    database = request.getfixturevalue(server)
    scenario.store_embedded()
    recompute_rollups(start=scenario.at - timedelta(hours=1), end=scenario.at)
    tree = parse("sum(rate(tickets_sold_total[5m])) + max(max_over_time(queue_size[5m]))")
    start, end = scenario.at - timedelta(minutes=25), scenario.at - timedelta(minutes=1)
    here = history(tree, start=start, end=end)
    use_backend(database.url)
    before = remote.client().requests
    there = history(tree, start=start, end=end)
    assert remote.client().requests - before == 2  # one range query per selector group
    assert list(there.times) == list(here.times) and len(here.times) >= 3  # 24 minutes
    for ours, theirs in zip(here.values, there.values, strict=True):
        assert math.isfinite(ours) and math.isclose(theirs, ours, rel_tol=TOLERANCE)


# --- discovery ------------------------------------------------------------------------------------

VALIDATE = "/api/v1/monitoring/alerts/rules/validate"


@pytest.mark.parametrize("server", ["prometheus", "victoria"])
def test_validation_warns_about_metrics_the_backend_holds_no_series_of(
    server: str,
    request: pytest.FixtureRequest,
    use_backend: Callable[[str], None],
    viewer_client: APIClient,
) -> None:
    database = request.getfixturevalue(server)
    expression = "sum(rate(tickets_sold_total[5m])) / sum(active_users)"
    embedded = viewer_client.post(VALIDATE, {"expression": expression}, format="json")
    assert embedded.json()["warnings"] == []
    use_backend(database.url)
    before = remote.client().requests
    response = viewer_client.post(VALIDATE, {"expression": expression}, format="json")
    assert response.status_code == 200
    assert response.json()["warnings"] == [
        "the metrics backend holds no series of active_users in the last hour"
    ]
    assert remote.client().requests - before == 1  # one /api/v1/series request


def test_validation_with_the_backend_down_is_valid_with_a_warning(
    use_backend: Callable[[str], None], viewer_client: APIClient
) -> None:
    use_backend(f"http://127.0.0.1:{free_port()}")
    response = viewer_client.post(VALIDATE, {"expression": "max(queue_size)"}, format="json")
    assert response.status_code == 200 and response.json()["valid"] is True
    [warning] = response.json()["warnings"]
    assert warning.startswith("the metrics backend could not be asked") and "unreachable" in warning
