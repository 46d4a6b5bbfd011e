"""Overall status rules, staleness and GET /health."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from health.models import Service
from health.selectors import overall_status
from tests.health.servers import PlatformServer

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


@pytest.fixture
def state(make_service: Callable[..., Service]) -> Callable[..., Service]:
    def make(slug: str, value: str, *, critical: bool = False, **extra: Any) -> Service:
        checked = extra.pop("checked", NOW - timedelta(seconds=30))
        service = make_service(slug, critical=critical, **extra)
        Service.objects.filter(pk=service.pk).update(
            state=value, state_since=checked, last_checked_at=checked, last_latency_ms=12.5
        )
        service.refresh_from_db()
        return service

    return make


def status_of() -> tuple[str, bool]:
    overall = overall_status(Service.objects.all(), now=NOW)
    return overall.status, overall.stale


def test_everything_up_is_healthy(state: Callable[..., Service]) -> None:
    state("auth", "up", critical=True)
    state("search", "up")
    assert status_of() == ("healthy", False)


def test_a_non_critical_service_down_is_degraded(state: Callable[..., Service]) -> None:
    state("auth", "up", critical=True)
    state("search", "down")
    assert status_of() == ("degraded", False)


def test_a_degraded_critical_service_is_degraded(state: Callable[..., Service]) -> None:
    state("auth", "degraded", critical=True)
    assert status_of() == ("degraded", False)


def test_a_critical_service_down_is_unhealthy(state: Callable[..., Service]) -> None:
    state("auth", "down", critical=True)
    state("search", "degraded")
    assert status_of() == ("unhealthy", False)


def test_the_monitors_own_database_down_is_unhealthy(state: Callable[..., Service]) -> None:
    state("search", "up")
    state("monitor-database", "down", critical=True, kind="monitor", target="database")
    assert status_of() == ("unhealthy", False)


def test_a_disabled_service_does_not_count(state: Callable[..., Service]) -> None:
    state("auth", "up", critical=True)
    state("legacy", "down", critical=True, enabled=False)
    assert status_of() == ("healthy", False)


def test_no_round_for_three_intervals_makes_healthy_stale_and_degraded(
    state: Callable[..., Service],
) -> None:
    state("auth", "up", critical=True, checked=NOW - timedelta(minutes=3, seconds=1))
    assert status_of() == ("degraded", True)


def test_a_round_within_three_intervals_is_not_stale(state: Callable[..., Service]) -> None:
    state("auth", "up", critical=True, checked=NOW - timedelta(minutes=2, seconds=59))
    assert status_of() == ("healthy", False)


def test_stale_and_unhealthy_stays_unhealthy(state: Callable[..., Service]) -> None:
    state("auth", "down", critical=True, checked=NOW - timedelta(hours=1))
    assert status_of() == ("unhealthy", True)


def test_health_is_200_with_the_documented_shape_when_healthy(
    state: Callable[..., Service], api_client: APIClient
) -> None:
    order = state("order", "up", critical=True)
    state("payment", "up")
    with time_machine.travel(NOW, tick=False):
        response = api_client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"status", "uptime", "checked_at", "stale", "services", "dependencies"}
    assert (body["status"], body["stale"], body["checked_at"]) == (
        "healthy",
        False,
        "2026-03-02T11:59:30Z",
    )
    assert body["uptime"] > 0
    assert body["services"][0] == {
        "name": "order",
        "status": "up",
        "latency_ms": 12.5,
        "last_checked": "2026-03-02T11:59:30Z",
        "critical": True,
        "since": "2026-03-02T11:59:30Z",
        "impacted_by": [],
        "maintenance": None,
    }
    assert order.slug == "order"
    assert set(body["dependencies"]) == {"database", "redis", "workers"}


def test_health_is_200_when_degraded_and_503_when_unhealthy(
    state: Callable[..., Service], api_client: APIClient
) -> None:
    search = state("search", "down")
    with time_machine.travel(NOW, tick=False):
        assert api_client.get("/health/").json()["status"] == "degraded"
        assert api_client.get("/health/").status_code == 200
        Service.objects.filter(pk=search.pk).update(critical=True)
        response = api_client.get("/health")
    assert (response.status_code, response.json()["status"]) == (503, "unhealthy")


def test_health_reports_staleness_with_the_time_of_the_last_round(
    state: Callable[..., Service], api_client: APIClient
) -> None:
    state("auth", "up", critical=True, checked=NOW - timedelta(minutes=10))
    with time_machine.travel(NOW, tick=False):
        body = api_client.get("/health").json()
    assert (body["status"], body["stale"], body["checked_at"]) == (
        "degraded",
        True,
        "2026-03-02T11:50:00Z",
    )


def test_health_reads_stored_state_and_never_probes(
    state: Callable[..., Service], api_client: APIClient, platform: PlatformServer
) -> None:
    state("probe-me", "up", target=platform.url("/never", "ok"))
    before = len(platform.requests)
    with CaptureQueriesContext(connection) as queries:
        response = api_client.get("/health")
    assert response.status_code in (200, 503)
    assert len(platform.requests) == before
    assert len(queries) <= 3


def test_health_needs_a_login_when_it_is_not_public(
    settings: Any, state: Callable[..., Service], api_client: APIClient, viewer_client: APIClient
) -> None:
    settings.HEALTH_PUBLIC = False
    state("auth", "up")
    assert api_client.get("/health").status_code == 401
    assert viewer_client.get("/health").status_code == 200


def test_health_shows_redis_as_not_configured_without_redis_url(
    settings: Any, api_client: APIClient, db: Any
) -> None:
    settings.REDIS_URL = ""
    body = api_client.get("/health").json()
    assert body["dependencies"]["redis"] == {"status": "not_configured"}


# Issue #11, item 10: /health logs when the overall status changes, never once per poll.


@pytest.fixture
def workers_alive(db: Any) -> None:
    """A job ran a moment ago: the worker cluster is up, so only the services are in question."""
    from monitoring_site.models import JobRun

    JobRun.objects.create(job="health.round", started_at=NOW - timedelta(seconds=20))


def health_lines(caplog: pytest.LogCaptureFixture) -> list[tuple[str, str, str]]:
    return [
        (record.name, record.levelname, record.getMessage())
        for record in caplog.records
        if record.name.startswith(("health", "django.request"))
    ]


def test_an_outage_logs_one_line_when_it_starts_and_one_when_it_ends_not_one_per_poll(
    state: Callable[..., Service],
    api_client: APIClient,
    caplog: pytest.LogCaptureFixture,
    workers_alive: None,
) -> None:
    auth = state("auth", "up", critical=True)
    state("search", "up")
    with time_machine.travel(NOW, tick=False), caplog.at_level(logging.DEBUG):
        assert api_client.get("/health").status_code == 200
        caplog.clear()
        Service.objects.filter(pk=auth.pk).update(state="down")
        assert [api_client.get("/health").status_code for _ in range(5)] == [503] * 5
        assert health_lines(caplog) == [
            ("health.services", "ERROR", "health: status healthy -> unhealthy (down: auth)")
        ]
        caplog.clear()
        Service.objects.filter(pk=auth.pk).update(state="up")
        assert [api_client.get("/health").status_code for _ in range(3)] == [200] * 3
    assert health_lines(caplog) == [
        ("health.services", "INFO", "health: status unhealthy -> healthy")
    ]


def test_a_change_in_what_is_down_is_logged_once_too(
    state: Callable[..., Service],
    api_client: APIClient,
    caplog: pytest.LogCaptureFixture,
    workers_alive: None,
) -> None:
    state("auth", "down", critical=True)
    search = state("search", "up")
    with time_machine.travel(NOW, tick=False), caplog.at_level(logging.DEBUG):
        api_client.get("/health")
        caplog.clear()
        Service.objects.filter(pk=search.pk).update(state="down")
        for _ in range(3):
            api_client.get("/health")
    assert health_lines(caplog) == [
        ("health.services", "ERROR", "health: status unhealthy -> unhealthy (down: auth, search)")
    ]


def test_an_unreachable_database_is_logged_once_per_outage(
    state: Callable[..., Service],
    api_client: APIClient,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    workers_alive: None,
) -> None:
    from django.db import OperationalError

    from health import views

    state("auth", "up", critical=True)
    real_payload = views.health_payload

    def unreachable(**kwargs: Any) -> Any:
        raise OperationalError("connection refused")  # the one seam: a database that is gone

    with time_machine.travel(NOW, tick=False), caplog.at_level(logging.DEBUG):
        api_client.get("/health")
        caplog.clear()
        monkeypatch.setattr(views, "health_payload", unreachable)
        assert [api_client.get("/health").status_code for _ in range(4)] == [503] * 4
        assert health_lines(caplog) == [
            (
                "health.services",
                "ERROR",
                "health: status healthy -> unhealthy (database unreachable: OperationalError)",
            )
        ]
        monkeypatch.setattr(views, "health_payload", real_payload)
        caplog.clear()
        api_client.get("/health")
    assert health_lines(caplog) == [
        ("health.services", "INFO", "health: status unhealthy -> healthy")
    ]


# Issue #14, item 3: dead workers make /health unhealthy (503), so an outside probe sees it.


@pytest.fixture
def monitor_workers(state: Callable[..., Service]) -> Service:
    """The monitor's own worker cluster, registered as bootstrap registers it."""
    return state("monitor-workers", "up", target="workers", kind=Service.Kind.MONITOR)


def test_workers_silent_past_the_stale_window_make_health_unhealthy_503(
    state: Callable[..., Service], monitor_workers: Service, api_client: APIClient
) -> None:
    from monitoring_site.models import JobRun

    state("order", "up", critical=True)
    JobRun.objects.create(job="health.round", started_at=NOW - timedelta(seconds=100))
    with time_machine.travel(NOW, tick=False):
        assert api_client.get("/health").status_code == 200
    with time_machine.travel(NOW + timedelta(seconds=21), tick=False):
        response = api_client.get("/health")
    body = response.json()
    assert (response.status_code, body["status"]) == (503, "unhealthy")
    assert body["dependencies"]["workers"]["status"] == "down"
    assert body["dependencies"]["workers"]["last_job_at"] == "2026-03-02T11:58:20Z"
    # The stored state of the last round still says "up": the rows decide, not the round.
    assert [s["name"] for s in body["services"]] == ["order"]


def test_dead_workers_do_not_count_when_their_check_is_disabled(
    state: Callable[..., Service], monitor_workers: Service, api_client: APIClient
) -> None:
    state("order", "up", critical=True)
    Service.objects.filter(pk=monitor_workers.pk).update(enabled=False)
    with time_machine.travel(NOW, tick=False):
        response = api_client.get("/health")
    assert (response.status_code, response.json()["status"]) == (200, "healthy")
