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
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.conf import LazySettings

from alerts.bootstrap.rules import _rule_fields
from alerts.engine.cycle import run_cycle
from alerts.language import evaluate_many, parse
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
    TOLERANCE,
    Scenario,
)
from tests.support.tsdb import VictoriaMetrics, free_port

Outcome = dict[tuple[str, tuple[tuple[str, str], ...]], tuple[str, float | None]]


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
    cycle = run_cycle(at=scenario.at)
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
        "down": lambda: f"http://rules:pw-s3cret@127.0.0.1:{free_port()}",
        "error": lambda: failing_backend("error"),
        "timeout": lambda: failing_backend("hang"),
    }
    use_backend(urls[failure]())
    clock = time.monotonic()
    cycle = run_cycle(at=scenario.at + timedelta(seconds=30))
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
    assert alert.labels["subject"].startswith("http://127.0.0.1:")  # no user, no password
    seen = [alert.summary, alert.description, str(alert.details), cycle.error]
    assert not any("s3cret" in text for text in seen)


def test_the_self_alert_resolves_when_the_backend_answers_again(
    scenario: Scenario,
    rules: list[Rule],
    victoria: VictoriaMetrics,
    use_backend: Callable[[str], None],
) -> None:
    seed_self_check()
    use_backend(f"http://127.0.0.1:{free_port()}")
    run_cycle(at=scenario.at)
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
