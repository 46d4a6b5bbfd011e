"""Thresholds, state changes, impacts and the hand-off to the alert engine."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from health import hooks
from health.models import CheckResult, Service, StateChange
from health.probes import ProbeResult
from health.selectors import impacted_services
from health.services import record_round, run_round
from tests.health.servers import PlatformServer

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def results(**outcomes: str) -> Callable[[dict[str, Service]], dict[int, ProbeResult]]:
    def build(services: dict[str, Service]) -> dict[int, ProbeResult]:
        return {
            services[slug].pk: ProbeResult(outcome, latency_ms=5.0, error=f"{slug} {outcome}")
            for slug, outcome in outcomes.items()
        }

    return build


def record(services: dict[str, Service], at: datetime, **outcomes: str) -> list[StateChange]:
    return record_round(results=results(**outcomes)(services), checked_at=at)


@pytest.fixture
def captured() -> Iterator[list[StateChange]]:
    seen: list[StateChange] = []
    hooks.register_state_change_handler(seen.append)
    yield seen
    hooks.unregister_state_change_handler(seen.append)


def test_a_service_goes_down_only_after_failure_threshold_failures_in_a_row(
    make_service: Callable[..., Service],
) -> None:
    svc = {"api": make_service("api", failure_threshold=3, success_threshold=2)}
    record(svc, T0, api="up")
    record(svc, T0 + timedelta(minutes=1), api="up")
    assert Service.objects.get(slug="api").state == "up"
    for minute in (2, 3):
        record(svc, T0 + timedelta(minutes=minute), api="down")
        assert Service.objects.get(slug="api").state == "up"
    changes = record(svc, T0 + timedelta(minutes=4), api="down")
    api = Service.objects.get(slug="api")
    assert (api.state, api.state_since, api.consecutive_failures) == (
        "down",
        T0 + timedelta(minutes=4),
        3,
    )
    assert [(c.from_state, c.to_state, c.at) for c in changes] == [
        ("up", "down", T0 + timedelta(minutes=4))
    ]
    assert changes[0].cause == "3 failed checks in a row: api down"


def test_one_success_between_failures_resets_the_streak(
    make_service: Callable[..., Service],
) -> None:
    svc = {"api": make_service("api", failure_threshold=2, success_threshold=1)}
    record(svc, T0, api="up")
    for minute, outcome in enumerate(["down", "up", "down", "up", "down"], start=1):
        record(svc, T0 + timedelta(minutes=minute), api=outcome)
    assert Service.objects.get(slug="api").state == "up"
    assert StateChange.objects.filter(to_state="down").count() == 0


def test_recovery_needs_success_threshold_successes_in_a_row(
    make_service: Callable[..., Service],
) -> None:
    svc = {"api": make_service("api", failure_threshold=1, success_threshold=3)}
    record(svc, T0, api="down")
    assert Service.objects.get(slug="api").state == "down"
    record(svc, T0 + timedelta(minutes=1), api="up")
    record(svc, T0 + timedelta(minutes=2), api="up")
    assert Service.objects.get(slug="api").state == "down"
    changes = record(svc, T0 + timedelta(minutes=3), api="up")
    assert [(c.from_state, c.to_state, c.cause) for c in changes] == [
        ("down", "up", "3 successful checks in a row")
    ]


def test_a_new_service_stays_unknown_until_a_threshold_is_reached(
    make_service: Callable[..., Service],
) -> None:
    svc = {"api": make_service("api", failure_threshold=3, success_threshold=2)}
    record(svc, T0, api="up")
    assert Service.objects.get(slug="api").state == "unknown"
    changes = record(svc, T0 + timedelta(minutes=1), api="up")
    assert [(c.from_state, c.to_state) for c in changes] == [("unknown", "up")]


def test_degraded_results_move_an_up_service_to_degraded_and_back(
    make_service: Callable[..., Service],
) -> None:
    svc = {"api": make_service("api", failure_threshold=3, success_threshold=2)}
    record(svc, T0, api="up")
    record(svc, T0 + timedelta(minutes=1), api="up")
    changes = record(svc, T0 + timedelta(minutes=2), api="degraded")
    assert [(c.from_state, c.to_state) for c in changes] == [("up", "degraded")]
    changes = record(svc, T0 + timedelta(minutes=3), api="up")
    assert [(c.from_state, c.to_state) for c in changes] == [("degraded", "up")]


def test_each_result_is_stored_with_its_outcome_latency_and_error(
    make_service: Callable[..., Service],
) -> None:
    svc = {"api": make_service("api")}
    record(svc, T0, api="down")
    stored = CheckResult.objects.get()
    assert (stored.service_id, stored.checked_at, stored.outcome, stored.latency_ms) == (
        svc["api"].pk,
        T0,
        "down",
        5.0,
    )
    assert stored.error == "api down"


def test_a_down_service_whose_dependency_is_down_is_impacted_by_it(
    make_service: Callable[..., Service],
) -> None:
    payment = make_service("payment", failure_threshold=1)
    ticket = make_service("ticket", failure_threshold=1)
    order = make_service("order", failure_threshold=1, depends_on=[payment, ticket])
    svc = {"payment": payment, "ticket": ticket, "order": order}
    changes = record(svc, T0, payment="down", ticket="up", order="down")
    order.refresh_from_db()
    assert order.impacted_by == ["payment"]
    by_slug = {c.service.slug: c for c in changes}
    assert by_slug["order"].impacted_by == ["payment"]
    assert by_slug["payment"].impacted_by == []
    assert [s.slug for s in impacted_services(payment)] == ["order"]
    assert impacted_services(ticket) == []


def test_impact_is_cleared_when_the_dependency_recovers(
    make_service: Callable[..., Service],
) -> None:
    payment = make_service("payment", failure_threshold=1, success_threshold=1)
    order = make_service("order", failure_threshold=1, depends_on=[payment])
    svc = {"payment": payment, "order": order}
    record(svc, T0, payment="down", order="down")
    record(svc, T0 + timedelta(minutes=1), payment="up", order="down")
    order.refresh_from_db()
    assert (order.state, order.impacted_by) == ("down", [])


def test_a_down_service_with_healthy_dependencies_is_not_impacted(
    make_service: Callable[..., Service],
) -> None:
    payment = make_service("payment", failure_threshold=1)
    order = make_service("order", failure_threshold=1, depends_on=[payment])
    record({"payment": payment, "order": order}, T0, payment="up", order="down")
    order.refresh_from_db()
    assert (order.state, order.impacted_by) == ("down", [])


def test_state_changes_reach_the_handlers_only_after_the_round_commits(
    make_service: Callable[..., Service],
    captured: list[StateChange],
    django_capture_on_commit_callbacks: Callable,
) -> None:
    svc = {"api": make_service("api", failure_threshold=1)}
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        record(svc, T0, api="down")
    assert captured == []
    for callback in callbacks:
        callback()
    assert [(c.service.slug, c.from_state, c.to_state) for c in captured] == [
        ("api", "unknown", "down")
    ]
    assert captured[0].pk == StateChange.objects.get().pk


def test_a_failing_handler_is_logged_and_the_others_still_run(
    make_service: Callable[..., Service],
    captured: list[StateChange],
    django_capture_on_commit_callbacks: Callable,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(change: StateChange) -> None:
        raise RuntimeError("alert engine unavailable")

    hooks.register_state_change_handler(broken)
    hooks._handlers.reverse()  # the broken one first
    try:
        svc = {"api": make_service("api", failure_threshold=1)}
        with caplog.at_level(logging.ERROR), django_capture_on_commit_callbacks(execute=True):
            record(svc, T0, api="down")
    finally:
        hooks.unregister_state_change_handler(broken)
    assert [c.to_state for c in captured] == ["down"]
    assert "state change handler failed" in caplog.text
    assert Service.objects.get(slug="api").state == "down"


def test_every_committed_round_reaches_the_round_handlers_even_without_a_state_change(
    make_service: Callable[..., Service], django_capture_on_commit_callbacks: Callable
) -> None:
    seen: list[hooks.CompletedRound] = []
    hooks.register_round_handler(seen.append)
    try:
        svc = {"api": make_service("api", failure_threshold=3)}
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            record(svc, T0, api="down")
        assert seen == []
        for callback in callbacks:
            callback()
        with django_capture_on_commit_callbacks(execute=True):
            record(svc, T0 + timedelta(minutes=1), api="down")
    finally:
        hooks.unregister_round_handler(seen.append)
    assert [(r.checked_at, r.changes) for r in seen] == [(T0, []), (T0 + timedelta(minutes=1), [])]


def test_a_failing_round_handler_is_logged_and_the_round_stands(
    make_service: Callable[..., Service],
    captured: list[StateChange],
    django_capture_on_commit_callbacks: Callable,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(completed: hooks.CompletedRound) -> None:
        raise RuntimeError("alert engine unavailable")

    hooks.register_round_handler(broken)
    try:
        svc = {"api": make_service("api", failure_threshold=1)}
        with caplog.at_level(logging.ERROR), django_capture_on_commit_callbacks(execute=True):
            record(svc, T0, api="down")
    finally:
        hooks.unregister_round_handler(broken)
    assert [c.to_state for c in captured] == ["down"]
    assert "round handler failed" in caplog.text
    assert Service.objects.get(slug="api").state == "down"


def test_rounds_with_a_moved_clock_take_a_failing_service_down_after_three(
    make_service: Callable[..., Service], platform: PlatformServer
) -> None:
    url = platform.url("/states/api", "ok")
    make_service("api", url, failure_threshold=3, success_threshold=2)
    with time_machine.travel(T0, tick=False) as clock:
        for _ in range(2):
            run_round(deadline=2)
            clock.shift(timedelta(minutes=1))
        platform.behaviours["/states/api"] = "fail"
        states = []
        for _ in range(3):
            run_round(deadline=2)
            states.append(Service.objects.get(slug="api").state)
            clock.shift(timedelta(minutes=1))
    assert states == ["up", "up", "down"]
    change = StateChange.objects.get(service__slug="api", to_state="down")
    assert change.at == T0 + timedelta(minutes=4)
    assert change.cause == "3 failed checks in a row: HTTP 500 (expected 200)"
