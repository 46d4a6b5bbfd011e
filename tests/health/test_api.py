"""The health API: registry CRUD with validation, details, history, a round on demand."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

from health.models import CheckResult, Service
from health.probes import ProbeResult
from health.services import record_round
from tests.health.servers import PlatformServer

pytestmark = pytest.mark.django_db
URL = "/api/v1/monitoring/services"
VALID = {"slug": "payment", "name": "Payment", "kind": "http", "target": "http://payment:3004"}


def post(client: APIClient, **changes: Any) -> Any:
    return client.post(URL, {**VALID, **changes}, format="json")


def test_an_admin_registers_a_service_with_defaults(admin_client_api: APIClient) -> None:
    response = post(admin_client_api, critical=True, tags=["payments"])
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["slug"], body["health_path"], body["timeout"], body["expected_status"]) == (
        "payment",
        "/health",
        3.0,
        200,
    )
    assert (body["failure_threshold"], body["success_threshold"], body["state"]) == (
        3,
        2,
        "unknown",
    )
    service = Service.objects.get(slug="payment")
    assert (service.critical, service.tags) == (True, ["payments"])
    assert service.history.count() == 1


def test_a_viewer_reads_the_registry_but_cannot_change_it(
    viewer_client: APIClient, make_service: Callable[..., Service]
) -> None:
    make_service("auth")
    listed = viewer_client.get(URL)
    assert listed.status_code == 200
    assert [s["slug"] for s in listed.json()["results"]] == ["auth"]
    assert post(viewer_client).status_code == 403
    assert Service.objects.filter(slug="payment").exists() is False


@pytest.mark.parametrize(
    ("changes", "field", "fragment"),
    [
        ({"target": "not a url"}, "target", "scheme http or https"),
        ({"target": "ftp://payment"}, "target", "scheme http or https"),
        ({"kind": "smtp"}, "kind", "Unknown kind 'smtp'"),
        ({"kind": "monitor", "target": "database"}, "kind", "Unknown kind 'monitor'"),
        ({"kind": "postgres", "target": "http://db"}, "target", "postgres or postgresql"),
        ({"timeout": 0}, "timeout", "greater than or equal to 0.1"),
        ({"timeout": 61}, "timeout", "less than or equal to 60"),
        ({"timeout": "soon"}, "timeout", "A valid number is required"),
        ({"expected_status": 700}, "expected_status", "less than or equal to 599"),
        ({"failure_threshold": 0}, "failure_threshold", "greater than or equal to 1"),
        ({"health_path": "health"}, "health_path", "starting with /"),
        ({"slug": "Not A Slug!"}, "slug", "letters, numbers, underscores or hyphens"),
        ({"depends_on": ["nope"]}, "depends_on", "does not exist"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(
    admin_client_api: APIClient, changes: dict, field: str, fragment: str
) -> None:
    response = post(admin_client_api, **changes)
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert field in body["details"]
    assert fragment in str(body["details"][field])
    assert body["message"].startswith(f"{field}:")
    assert not Service.objects.filter(slug=VALID["slug"]).exists()


def test_a_duplicate_slug_is_a_400_naming_the_slug(
    admin_client_api: APIClient, make_service: Callable[..., Service]
) -> None:
    make_service("payment")
    response = post(admin_client_api)
    assert response.status_code == 400
    assert "slug" in response.json()["details"]
    assert Service.objects.filter(slug="payment").count() == 1


def test_a_dependency_cycle_is_a_400_naming_depends_on_and_the_cycle(
    admin_client_api: APIClient, make_service: Callable[..., Service]
) -> None:
    venue = make_service("venue")
    event = make_service("event", depends_on=[venue])
    make_service("ticket", depends_on=[event])
    response = admin_client_api.patch(
        f"{URL}/{venue.pk}", {"depends_on": ["ticket"]}, format="json"
    )
    assert response.status_code == 400
    details = response.json()["details"]
    assert details["depends_on"] == [
        "These dependencies would make a cycle: venue -> ticket -> event -> venue."
    ]
    assert list(venue.depends_on.all()) == []


def test_a_service_cannot_depend_on_itself(
    admin_client_api: APIClient, make_service: Callable[..., Service]
) -> None:
    venue = make_service("venue")
    response = admin_client_api.patch(
        f"{URL}/{venue.pk}/", {"depends_on": ["venue"]}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["details"]["depends_on"] == ["A service cannot depend on itself."]


def test_an_admin_edits_and_deletes_a_service_and_the_edit_is_in_the_history(
    admin_client_api: APIClient, make_service: Callable[..., Service]
) -> None:
    payment = make_service("payment", "http://payment:3004")
    ticket = make_service("ticket")
    response = admin_client_api.put(
        f"{URL}/{payment.pk}",
        {**VALID, "target": "http://payment-v2:3004", "depends_on": ["ticket"], "timeout": 1.5},
        format="json",
    )
    assert response.status_code == 200, response.json()
    payment.refresh_from_db()
    assert (payment.target, payment.timeout) == ("http://payment-v2:3004", 1.5)
    assert list(payment.depends_on.all()) == [ticket]
    assert [h.target for h in payment.history.order_by("history_date")] == [
        "http://payment:3004",
        "http://payment-v2:3004",
    ]
    assert admin_client_api.delete(f"{URL}/{payment.pk}").status_code == 204
    assert not Service.objects.filter(pk=payment.pk).exists()


def test_a_dsn_password_is_never_shown_back(
    admin_client_api: APIClient,
) -> None:
    response = post(
        admin_client_api, slug="db", kind="postgres", target="postgres://app:hunter2@db:5432/app"
    )
    assert response.status_code == 201
    assert response.json()["target"] == "postgres://***@db:5432/app"
    assert "hunter2" not in admin_client_api.get(URL).content.decode()
    assert Service.objects.get(slug="db").target == "postgres://app:hunter2@db:5432/app"


def test_the_monitors_own_dependencies_keep_kind_and_target(
    admin_client_api: APIClient, make_service: Callable[..., Service]
) -> None:
    own = make_service("monitor-database", "database", kind="monitor")
    response = admin_client_api.patch(
        f"{URL}/{own.pk}", {"kind": "http", "target": "http://x"}, format="json"
    )
    assert response.status_code == 400
    assert "kind" in response.json()["details"]
    relaxed = admin_client_api.patch(f"{URL}/{own.pk}", {"failure_threshold": 2}, format="json")
    assert relaxed.status_code == 200


def test_the_registry_filters_by_kind_state_and_tag(
    viewer_client: APIClient, make_service: Callable[..., Service]
) -> None:
    make_service("auth", tags=["core"])
    make_service("cache", "redis://cache:6379", kind="redis")
    assert [s["slug"] for s in viewer_client.get(f"{URL}?kind=redis").json()["results"]] == [
        "cache"
    ]
    assert [s["slug"] for s in viewer_client.get(f"{URL}?tag=core").json()["results"]] == ["auth"]


T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _history(service: Service, outcomes: list[str], latencies: list[float]) -> None:
    for minute, (outcome, latency) in enumerate(zip(outcomes, latencies, strict=True)):
        record_round(
            results={service.pk: ProbeResult(outcome, latency_ms=latency)},
            checked_at=T0 + timedelta(minutes=minute),
        )


def test_detailed_shows_streaks_percentiles_uptime_and_changes(
    client_for: Callable[..., APIClient], viewer: Any, make_service: Callable[..., Service]
) -> None:
    api = make_service("api", failure_threshold=1, success_threshold=1)
    latencies = [float(n) for n in range(1, 21)]
    _history(api, ["up"] * 19 + ["down"], latencies)
    with time_machine.travel(T0 + timedelta(minutes=20), tick=False):
        response = client_for(viewer).get("/api/v1/monitoring/health/detailed")
    assert response.status_code == 200
    entry = next(s for s in response.json()["services"] if s["slug"] == "api")
    assert (entry["state"], entry["consecutive_failures"], entry["since"]) == (
        "down",
        1,
        "2026-03-02T09:19:00Z",
    )
    assert entry["last_result"]["outcome"] == "down"
    assert entry["latency_ms"] == {"p50": 10.0, "p95": 19.0}
    assert entry["uptime"] == {"24h": 0.95, "7d": 0.95, "30d": 0.95}
    assert [(c["from"], c["to"]) for c in entry["recent_changes"]] == [
        ("up", "down"),
        ("unknown", "up"),
    ]


def test_detailed_needs_the_viewer_role(
    api_client: APIClient, client_for: Callable, nobody: Any
) -> None:
    assert api_client.get("/api/v1/monitoring/health/detailed").status_code == 401
    assert client_for(nobody).get("/api/v1/monitoring/health/detailed").status_code == 403


def test_history_returns_raw_results_in_a_range(
    viewer_client: APIClient, make_service: Callable[..., Service]
) -> None:
    api = make_service("api")
    _history(api, ["up", "down", "up"], [5.0, 9.0, 7.0])
    response = viewer_client.get(
        f"{URL}/{api.pk}/history",
        {"from": "2026-03-02T09:01:00Z", "to": "2026-03-02T10:00:00Z"},
    )
    assert response.status_code == 200
    body = response.json()
    assert body["resolution"] == "raw"
    assert [(p["at"], p["outcome"], p["latency_ms"]) for p in body["points"]] == [
        ("2026-03-02T09:01:00Z", "down", 9.0),
        ("2026-03-02T09:02:00Z", "up", 7.0),
    ]


def test_history_returns_hourly_uptime_for_long_ranges(
    viewer_client: APIClient, make_service: Callable[..., Service]
) -> None:
    api = make_service("api")
    _history(api, ["up", "down", "up", "degraded"], [5.0, 9.0, 7.0, 6.0])
    response = viewer_client.get(
        f"{URL}/{api.pk}/history",
        {"from": "2026-02-25T00:00:00Z", "to": "2026-03-03T00:00:00Z"},
    )
    body = response.json()
    assert body["resolution"] == "hour"
    assert body["points"] == [
        {
            "hour": "2026-03-02T09:00:00Z",
            "checks": 4,
            "up": 2,
            "degraded": 1,
            "down": 1,
            "uptime": 0.75,
            "latency_avg_ms": 6.0,
        }
    ]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"from": "yesterday"}, "from"),
        ({"to": "2026-13-01T00:00:00Z"}, "to"),
        ({"from": "2026-03-02T10:00:00Z", "to": "2026-03-02T09:00:00Z"}, "from"),
        ({"resolution": "minute"}, "resolution"),
        (
            {"from": "2026-01-01T00:00:00Z", "to": "2026-03-01T00:00:00Z", "resolution": "raw"},
            "from",
        ),
    ],
)
def test_history_rejects_bad_parameters_naming_them(
    viewer_client: APIClient, make_service: Callable[..., Service], query: dict, field: str
) -> None:
    api = make_service("api")
    response = viewer_client.get(f"{URL}/{api.pk}/history", query)
    assert response.status_code == 400
    assert field in response.json()["details"]


def test_an_operator_runs_a_round_now_and_gets_it_back(
    operator_client: APIClient, make_service: Callable[..., Service], platform: PlatformServer
) -> None:
    make_service("api", platform.url("/api-now", "ok"), success_threshold=1)
    response = operator_client.post("/api/v1/monitoring/health/check")
    assert response.status_code == 200
    body = response.json()
    api = next(r for r in body["results"] if r["service"] == "api")
    assert (api["outcome"], api["status_code"], api["state"]) == ("up", 200, "up")
    assert {"service": "api", "from": "unknown", "to": "up"}.items() <= next(
        c for c in body["state_changes"] if c["service"] == "api"
    ).items()
    assert body["duration_ms"] < body["deadline_s"] * 1000 + 500
    assert CheckResult.objects.filter(service__slug="api").count() == 1


def test_rounds_on_demand_are_throttled(
    monkeypatch: pytest.MonkeyPatch,
    operator_client: APIClient,
    make_service: Callable[..., Service],
    platform: PlatformServer,
) -> None:
    # DRF reads the rates once, at import: patch the class attribute, not the settings.
    rates = {**SimpleRateThrottle.THROTTLE_RATES, "health_check": "2/min"}
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", rates)
    make_service("api", platform.url("/api-throttle", "ok"))
    codes = [operator_client.post("/api/v1/monitoring/health/check").status_code for _ in range(3)]
    assert codes == [200, 200, 429]


@pytest.mark.parametrize("slug", ["pay\x00ment", "no such/service", 7])
def test_a_dependency_that_is_not_a_slug_is_a_400_naming_depends_on(
    admin_client_api: APIClient, slug: object
) -> None:
    """Found by bin/fuzz-api: a NUL in depends_on reached PostgreSQL and answered 500."""
    response = admin_client_api.post(
        "/api/v1/monitoring/services",
        {"slug": "svc", "name": "Svc", "target": "http://127.0.0.1:9", "depends_on": [slug]},
        format="json",
    )

    assert response.status_code == 400
    assert "does not exist" in response.json()["details"]["depends_on"][0]
    assert not Service.objects.filter(slug="svc").exists()


@pytest.mark.parametrize(("name", "value"), [("kind", "smtp"), ("state", "a\x00")])
def test_an_unknown_kind_or_state_filter_is_a_400_naming_it(
    viewer_client: APIClient, name: str, value: str
) -> None:
    """Found by bin/fuzz-api: a NUL in ?kind= reached PostgreSQL and answered 500."""
    response = viewer_client.get("/api/v1/monitoring/services", {name: value})

    assert response.status_code == 400
    assert list(response.json()["details"]) == [name]
