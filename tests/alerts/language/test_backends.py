"""The metrics backend (issue #20): the same rules give the same alerts on the embedded store and
on real Prometheus and VictoriaMetrics servers holding the same samples; a backend that is down,
slow or answering errors fails the rules that read it (no false resolve), and raises a self-alert.

Tolerance: values agree within 2 % (relative). The data are pushed every 15 s and the instant
sits where the embedded store's minute-aligned windows and PromQL's exact windows hold the same
samples, so the only differences left are Prometheus' extrapolation of ``rate``/``increase`` to
the window's edges and floating-point summation order.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.conf import LazySettings
from rest_framework.test import APIClient

from alerts.bootstrap.rules import _rule_fields
from alerts.engine.cycle import run_cycle
from alerts.language import backtest, evaluate_many, parse
from alerts.language.backends import (
    BackendError,
    EmbeddedBackend,
    Leaf,
    PrometheusBackend,
    leaves_of,
    promql_group,
)
from alerts.language.tree import Call, Selector
from alerts.models import Alert, AlertEvent, Notification, Rule
from alerts.rules.services import create_rule
from alerts.sources.self_check import SELF_CHECK_RULE, run_self_checks
from metrics_app import backend as remote
from tests.alerts.language.backend_scenario import (
    GROUPS,
    LEAVES,
    RULES,
    SERVICES,
    Scenario,
    build,
)
from tests.support.tsdb import Prometheus, VictoriaMetrics, free_port, load

TOLERANCE = 0.02
Outcome = dict[tuple[str, tuple[tuple[str, str], ...]], tuple[str, float | None]]


@pytest.fixture(scope="module")
def scenario() -> Scenario:
    return build()


@pytest.fixture(scope="module")
def prometheus(
    scenario: Scenario, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Prometheus]:
    with Prometheus(tmp_path_factory.mktemp("prometheus")) as server:
        load(server, scenario.remote)
        yield server


@pytest.fixture(scope="module")
def victoria(
    scenario: Scenario, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[VictoriaMetrics]:
    with VictoriaMetrics(tmp_path_factory.mktemp("victoria")) as server:
        load(server, scenario.remote)
        yield server


@pytest.fixture
def use_backend(settings: LazySettings) -> Callable[[str], None]:
    def point(url: str) -> None:
        settings.METRICS_BACKEND = remote.PROMETHEUS
        settings.METRICS_BACKEND_URL = url

    return point


@pytest.fixture
def rules(make_rule: Callable[..., Rule]) -> list[Rule]:
    return [
        make_rule(
            name=slug,
            slug=slug,
            expression=expr,
            operator=op,
            threshold=threshold,
            for_seconds=0,
            channels=[],
        )
        for slug, expr, op, threshold in RULES
    ]


def seed_self_check() -> None:
    fields = _rule_fields(SELF_CHECK_RULE)
    create_rule(fields=fields, user=None, reason="test")


def outcome() -> Outcome:
    return {
        (alert.rule_name, tuple(sorted(alert.labels.items()))): (alert.state, alert.value)
        for alert in Alert.objects.filter(source=Alert.Source.RULE)
    }


def forget_alerts() -> None:
    Notification.objects.all().delete()
    AlertEvent.objects.all().delete()
    Alert.objects.all().delete()


def assert_same(embedded: Outcome, other: Outcome) -> None:
    assert sorted(other) == sorted(embedded)
    for key, (state, value) in embedded.items():
        other_state, other_value = other[key]
        assert other_state == state, key
        assert value is not None and other_value is not None, key
        assert math.isclose(other_value, value, rel_tol=TOLERANCE), (key, value, other_value)


def cycle_outcome(scenario: Scenario) -> Outcome:
    cycle = run_cycle(now=scenario.at)
    assert cycle.error == ""
    assert cycle.errors == 0, list(Rule.objects.exclude(last_error="").values_list("last_error"))
    return outcome()


@pytest.mark.parametrize("server", ["prometheus", "victoria"])
def test_the_same_rules_fire_the_same_alerts_on_the_embedded_store_and_on_the_backend(
    server: str,
    scenario: Scenario,
    rules: list[Rule],
    use_backend: Callable[[str], None],
    request: pytest.FixtureRequest,
) -> None:
    database = request.getfixturevalue(server)
    scenario.store_embedded()
    embedded = cycle_outcome(scenario)
    fired = {slug for slug, _ in embedded}
    # The cases cover alerts for some label sets, none, and no data at all.
    assert {"rate", "p90", "error-ratio", "offset", "count-over-time"} <= fired
    assert "never" not in fired and "no-data" not in fired
    assert ("rate", (("service", "alpha"),)) not in embedded  # 1 per push: 0.067/s < 0.1

    trees = [parse(expr) for _, expr, _, _ in RULES]
    assert len(leaves_of(trees)) == LEAVES
    forget_alerts()
    use_backend(database.url)
    before = remote.client().requests
    assert_same(embedded, cycle_outcome(scenario))
    assert remote.client().requests - before == GROUPS  # one query per selector group


@pytest.mark.parametrize("server", ["prometheus", "victoria"])
def test_every_rule_value_agrees_within_the_tolerance(
    server: str, scenario: Scenario, request: pytest.FixtureRequest, db: Any
) -> None:
    database = request.getfixturevalue(server)
    scenario.store_embedded()
    exprs = [parse(expr) for _, expr, _, _ in RULES]
    config = remote.BackendConfig(database.url, "", "", "", 3.0, 10.0, True)
    there = evaluate_many(
        exprs, at=scenario.at, backend=PrometheusBackend(remote.PrometheusClient(config))
    )
    here = evaluate_many(exprs, at=scenario.at, backend=EmbeddedBackend())
    for (slug, *_), mine, theirs in zip(RULES, here, there, strict=True):
        assert not isinstance(mine, Exception) and not isinstance(theirs, Exception), slug
        ours = {tuple(sorted(s.labels.items())): s.value for s in mine.samples}  # type: ignore[union-attr]
        other = {tuple(sorted(s.labels.items())): s.value for s in theirs.samples}  # type: ignore[union-attr]
        assert sorted(other) == sorted(ours), slug
        for labels, value in ours.items():
            assert math.isclose(other[labels], value, rel_tol=TOLERANCE), (slug, labels)


def test_one_query_asks_for_every_function_over_a_selector_group() -> None:
    leaves = leaves_of(
        [parse("max_over_time(queue_size[5m]) - avg_over_time(queue_size[5m]) + queue_size")]
    )
    groups = {leaf.group for leaf in leaves}
    assert len(leaves) == 3 and len(groups) == 2
    pair = [leaf for leaf in leaves if leaf.func is not None]
    assert promql_group(pair) == (
        'label_replace(avg_over_time(queue_size[300s]), "tt_leaf", "0", "", "") or '
        'label_replace(max_over_time(queue_size[300s]), "tt_leaf", "1", "", "")'
    )
    call = parse('rate(errors_total{type="a\\"b",service=~"x|y"}[1m] offset 1h)')
    assert isinstance(call, Call) and isinstance(call.args[0], Selector)
    quoted = Leaf("rate", call.args[0])
    assert promql_group([quoted]) == (
        'rate(errors_total{service=~"x|y",type="a\\"b"}[60s] offset 3600s)'
    )


# --- a backend that fails ---------------------------------------------------------------------


class _Answer(BaseHTTPRequestHandler):
    mode = "error"

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.mode == "hang":
            time.sleep(3)
        body = json.dumps(
            {"status": "error", "errorType": "execution", "error": "query processing failed"}
        ).encode()
        try:
            self.send_response(422)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except OSError:  # the client gave up waiting (the timeout case)
            pass

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def failing_backend() -> Iterator[Callable[[str], str]]:
    servers: list[ThreadingHTTPServer] = []

    def start(mode: str) -> str:
        handler = type("Handler", (_Answer,), {"mode": mode})
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("failure", ["down", "error", "timeout"])
def test_a_failing_backend_records_an_error_per_rule_resolves_nothing_and_raises_a_self_alert(
    failure: str,
    scenario: Scenario,
    rules: list[Rule],
    victoria: VictoriaMetrics,
    use_backend: Callable[[str], None],
    failing_backend: Callable[[str], str],
    settings: LazySettings,
) -> None:
    seed_self_check()
    use_backend(victoria.url)
    cycle_outcome(scenario)
    firing = set(Alert.objects.filter(state=Alert.State.FIRING).values_list("pk", flat=True))
    assert firing

    settings.METRICS_BACKEND_TIMEOUT = 0.5
    urls = {
        "down": lambda: f"http://127.0.0.1:{free_port()}",
        "error": lambda: failing_backend("error"),
        "timeout": lambda: failing_backend("hang"),
    }
    use_backend(urls[failure]())
    clock = time.monotonic()
    cycle = run_cycle(now=scenario.at + timedelta(seconds=30))
    assert time.monotonic() - clock < 2.5  # a dead backend costs one timeout, not one per leaf

    assert cycle.error.startswith("metrics backend: 15 of 15 rules not evaluated")
    assert cycle.errors == len(RULES)
    expected = {
        "down": "unreachable",
        "error": "HTTP 422 (execution: query processing failed)",
        "timeout": "did not answer",
    }[failure]
    for rule in Rule.objects.filter(builtin=False):
        assert "BackendError" in rule.last_error and expected in rule.last_error + cycle.error
    still = set(Alert.objects.filter(state=Alert.State.FIRING).values_list("pk", flat=True))
    assert still == firing  # an error is never read as "the condition is false"

    run_self_checks()
    alert = Alert.objects.get(source=Alert.Source.SELF, labels__check="metrics_backend")
    assert alert.state == Alert.State.FIRING
    assert "runbook-metrics-backend" in alert.description


def test_the_self_alert_resolves_when_the_backend_answers_again(
    scenario: Scenario,
    rules: list[Rule],
    victoria: VictoriaMetrics,
    use_backend: Callable[[str], None],
) -> None:
    seed_self_check()
    use_backend(f"http://127.0.0.1:{free_port()}")
    run_cycle(now=scenario.at)
    run_self_checks()
    use_backend(victoria.url)
    cycle_outcome(scenario)
    run_self_checks()
    alert = Alert.objects.get(source=Alert.Source.SELF, labels__check="metrics_backend")
    assert alert.state == Alert.State.RESOLVED


def test_a_backend_error_is_a_rule_error_of_the_rules_that_read_it_only(
    scenario: Scenario, victoria: VictoriaMetrics, db: Any
) -> None:
    """A query the backend rejects (here: a series limit) fails its own group's rules."""

    class Rejecting(remote.PrometheusClient):
        def query(self, promql: str, *, at: Any) -> list[tuple[dict[str, str], float]]:
            if "queue_size" in promql:
                raise remote.MetricsBackendError(
                    "the metrics backend answered 422: too many series"
                )
            return super().query(promql, at=at)

    config = remote.BackendConfig(victoria.url, "", "", "", 3.0, 10.0, True)
    backend = PrometheusBackend(Rejecting(config))
    results = evaluate_many(
        ["sum(rate(tickets_sold_total[5m]))", "max(queue_size)"], at=scenario.at, backend=backend
    )
    assert not isinstance(results[0], Exception) and results[0].samples  # type: ignore[union-attr]
    assert isinstance(results[1], BackendError) and "too many series" in results[1].message


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


@pytest.mark.parametrize("server", ["prometheus", "victoria"])
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
    window = {"start": scenario.at - timedelta(minutes=20), "end": scenario.at}
    step = timedelta(minutes=1)
    here = backtest(expr, **window, step=step, backend=EmbeddedBackend())
    there = backtest(expr, **window, step=step, backend=backend)
    assert backend.queries == 2  # one range query per selector group, for all 21 steps
    assert [moment for moment, _ in there] == [moment for moment, _ in here]
    for (moment, mine), (_, theirs) in zip(here, there, strict=True):
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
    # The steps are taken from the clock: the episodes' times agree to the minute.
    episodes = [(e["labels"], e["fired_at"][:16]) for e in there.json()["episodes"]]
    assert episodes == [(e["labels"], e["fired_at"][:16]) for e in here["episodes"]]
    assert episodes and episodes[0][0] == {"service": "alpha", "queue": "orders"}


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
