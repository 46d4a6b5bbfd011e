"""No 500 from bad input (issue #10 item 7, issue #11 item 4): each gets a 400 naming the field.

Deeply nested JSON on every JSON endpoint, the unauthenticated token endpoints included;
non-ASCII digits in durations, ids and ranges; naive or impossible date-times.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.test import APIClient

from alerts.models import Alert, MaintenanceWindow, Rule, Silence
from health.models import Service
from metrics_app.models import Series
from metrics_app.services import create_ingest_token

DEEP = "[" * 1000 + "]" * 1000
DEEPISH = '{"a": ' * 65 + "1" + "}" * 65  # parses, but deeper than any request needs
NESTING = "JSON nested deeper than 64 levels."
RULES = "/api/v1/monitoring/alerts/rules"


def rule_body(**changes: Any) -> dict[str, Any]:
    return {
        "name": "Queue too long",
        "expression": "sum(queue_size)",
        "operator": ">",
        "threshold": 100,
        "severity": "warning",
        **changes,
    }


@pytest.fixture
def rule(db: Any) -> Rule:
    return Rule.objects.create(
        name="Existing", expression="sum(queue_size)", operator=">", threshold=1.0
    )


@pytest.fixture
def ingest_client(db: Any) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {create_ingest_token(service='payment')[1]}")
    return client


def json_endpoints(rule: Rule) -> list[tuple[str, str, str]]:
    """(role, method, path) of every endpoint that reads a JSON body."""
    service = Service.objects.create(slug="payment", name="Payment", target="http://127.0.0.1:9")
    return [
        ("anonymous", "post", "/api/auth/token"),
        ("anonymous", "post", "/api/auth/token/refresh"),
        ("ingest", "post", "/api/v1/metrics/ingest"),
        ("admin", "post", RULES),
        ("admin", "put", f"{RULES}/{rule.pk}"),
        ("admin", "patch", f"{RULES}/{rule.pk}"),
        ("viewer", "post", f"{RULES}/validate"),
        ("viewer", "post", "/api/v1/monitoring/query"),
        ("operator", "post", "/api/v1/monitoring/silences"),
        ("admin", "post", "/api/v1/monitoring/maintenance-windows"),
        ("admin", "post", "/api/v1/monitoring/services"),
        ("admin", "patch", f"/api/v1/monitoring/services/{service.pk}"),
        ("admin", "post", "/api/alerts/test"),
    ]


@pytest.mark.parametrize("body", [DEEP, DEEPISH], ids=["1000-deep", "65-deep"])
def test_json_nested_too_deeply_is_a_400_on_every_json_endpoint_and_nothing_is_stored(
    request: pytest.FixtureRequest,
    client_for: Callable[[User], APIClient],
    rule: Rule,
    ingest_client: APIClient,
    body: str,
) -> None:
    clients = {
        "anonymous": APIClient(),
        "ingest": ingest_client,
        **{role: client_for(request.getfixturevalue(role)) for role in ("viewer", "operator")},
        "admin": client_for(request.getfixturevalue("admin")),
    }
    for role, method, path in json_endpoints(rule):
        response = getattr(clients[role], method)(path, body, content_type="application/json")
        assert response.status_code == 400, (method, path, response.content[:300])
        assert response.json()["message"] == NESTING, (method, path)
        assert response.json()["details"] == {"body": [NESTING]}, (method, path)
    assert (Rule.objects.count(), Series.objects.count(), Silence.objects.count()) == (1, 0, 0)
    assert MaintenanceWindow.objects.count() == 0
    assert Rule.objects.get().name == "Existing"


def test_sixty_four_levels_are_still_accepted(viewer_client: APIClient) -> None:
    body = '{"expression": "1", "x": ' + "[" * 63 + "]" * 63 + "}"
    response = viewer_client.post(
        "/api/v1/monitoring/alerts/rules/validate", body, content_type="application/json"
    )
    assert response.status_code == 200, response.json()


def _api_routes() -> list[str]:
    routes: list[str] = []

    def walk(patterns: list[Any], prefix: str) -> None:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, prefix + str(pattern.pattern))
            elif isinstance(pattern, URLPattern):
                routes.append(prefix + str(pattern.pattern))

    walk(get_resolver().url_patterns, "")
    return routes


def test_no_route_answers_a_deep_body_with_a_server_error(
    client_for: Callable[[User], APIClient], superuser: User
) -> None:
    """Every route, including ones added later, as a superuser (ids of rows that do not exist)."""
    client = client_for(superuser)
    paths = {
        route.strip("^$").replace("\\", "").replace("/?", "")
        for route in _api_routes()
        if not route.startswith("admin")
    }
    tried = 0
    for path in sorted(paths):
        path = "/" + path.replace("(?P<pk>[0-9]+)", "1").replace("<int:pk>", "1")
        if "(?P" in path or "<" in path:
            continue
        for method in ("post", "put", "patch"):
            response = getattr(client, method)(path, DEEP, content_type="application/json")
            assert response.status_code < 500, (method, path, response.content[:200])
            tried += 1
    assert tried > 60


@pytest.mark.parametrize("field", ["for", "cooldown", "keep_firing_for"])
@pytest.mark.parametrize("value", ["¹", "5¹m", "٣m", "1e400", 1e300])
def test_odd_digits_and_huge_numbers_in_a_rule_duration_are_a_400_naming_it(
    admin_client_api: APIClient, field: str, value: Any
) -> None:
    body = rule_body(**{field: value})
    if value == "1e400":  # a JSON number that Python reads as infinity
        raw = '{"name": "Queue", "expression": "1", "operator": ">", "threshold": 1, '
        response = admin_client_api.post(
            RULES, raw + f'"{field}": 1e400}}', content_type="application/json"
        )
    else:
        response = admin_client_api.post(RULES, body, format="json")
    assert response.status_code == 400, response.content[:300]
    assert list(response.json()["details"]) == [field]
    assert Rule.objects.count() == 0


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/api/v1/monitoring/alerts?rule=¹", "rule"),
        ("/api/v1/monitoring/alerts?rule=٣", "rule"),
        ("/api/v1/metrics/query?series=¹", "series"),
        ("/api/v1/metrics/query?series=" + "9" * 5000, "series"),
        ("/api/v1/monitoring/alerts?since=2026-13-01T00:00:00Z", "since"),
        ("/api/v1/monitoring/alerts?until=2026-02-30T00:00:00Z", "until"),
        ("/api/v1/monitoring/alerts?since=2026-01-01T00:00:00", "since"),
        ("/api/v1/monitoring/alerts?until=2026-01-01T00:00:00", "until"),
        ("/api/v1/monitoring/alerts?since=tomorrow", "since"),
        ("/api/v1/metrics/query?metric=queue_size&start=2026-01-01T00:00:00", "start"),
        ("/api/v1/metrics/query?metric=queue_size&end=2026-13-01T00:00:00Z", "end"),
    ],
)
def test_odd_ids_and_naive_or_impossible_times_in_query_parameters_are_a_400_naming_them(
    viewer_client: APIClient, path: str, field: str
) -> None:
    response = viewer_client.get(path)
    assert response.status_code == 400, response.content[:300]
    assert list(response.json()["details"]) == [field]
    assert response.json()["message"].startswith(f"{field}: ")


def test_a_naive_time_is_refused_with_a_message_asking_for_the_offset(
    viewer_client: APIClient,
) -> None:
    response = viewer_client.get("/api/v1/monitoring/alerts?since=2026-01-01T00:00:00")
    assert response.json()["details"]["since"] == [
        "Give a UTC offset: a time without one is ambiguous (e.g. 2026-11-29T12:00:00Z)."
    ]
    month = viewer_client.get("/api/v1/monitoring/alerts?since=2026-13-01T00:00:00Z")
    assert month.json()["details"]["since"] == ["Not a valid date-time (month must be in 1..12)."]


def test_since_and_until_with_offsets_filter_alerts(viewer_client: APIClient, rule: Rule) -> None:
    from datetime import UTC, datetime

    for day in (1, 2, 3):
        Alert.objects.create(
            rule=rule,
            rule_name=rule.name,
            fingerprint=f"f{day}",
            labels={"day": str(day)},
            state=Alert.State.RESOLVED,
            started_at=datetime(2026, 1, day, 12, tzinfo=UTC),
        )
    # 2026-01-02T13:30+02:00 is 11:30 UTC, before the second alert; "+" sent unencoded
    response = viewer_client.get(
        "/api/v1/monitoring/alerts?since=2026-01-02T13:30:00+02:00&until=1767355200"
    )
    assert response.status_code == 200, response.json()
    assert [a["labels"]["day"] for a in response.json()["results"]] == ["2"]


@pytest.mark.parametrize("value", ["¹", "1¹h", "٣h", "9" * 5000])
def test_odd_digits_in_the_preview_range_are_a_400_naming_range(
    viewer_client: APIClient, rule: Rule, value: str
) -> None:
    response = viewer_client.post(f"{RULES}/{rule.pk}/preview?range={value}")
    assert response.status_code == 400, response.content[:300]
    assert list(response.json()["details"]) == ["range"]


@pytest.mark.parametrize("name", ["from", "to"])
@pytest.mark.parametrize("value", ["2026-01-01T00:00:00", "2026-13-01T00:00:00Z", "¹"])
def test_health_history_times_without_offset_or_impossible_are_a_400_naming_them(
    viewer_client: APIClient, db: Any, name: str, value: str
) -> None:
    service = Service.objects.create(slug="payment", name="Payment", target="http://127.0.0.1:9")
    response = viewer_client.get(f"/api/v1/monitoring/services/{service.pk}/history?{name}={value}")
    assert response.status_code == 400, response.content[:300]
    assert list(response.json()["details"]) == [name]


@pytest.mark.parametrize(
    ("field", "value"),
    [("ends_at", "2026-12-01T00:00:00"), ("starts_at", "2026-13-01T00:00:00Z")],
)
def test_silence_times_without_offset_or_impossible_are_a_400_naming_them(
    operator_client: APIClient, field: str, value: str
) -> None:
    body = {
        "matchers": [{"name": "service", "value": "payment"}],
        "ends_at": "2099-01-01T00:00:00Z",
        "comment": "deploy",
        field: value,
    }
    response = operator_client.post("/api/v1/monitoring/silences", body, format="json")
    assert response.status_code == 400, response.content[:300]
    assert list(response.json()["details"]) == [field]
    assert Silence.objects.count() == 0


@pytest.mark.parametrize("pk", ["9" * 5000, "9" * 25, "0"])
def test_no_route_answers_an_absurd_id_with_a_server_error(
    client_for: Callable[[User], APIClient], superuser: User, pk: str
) -> None:
    client = client_for(superuser)
    tried = 0
    for route in sorted(set(_api_routes())):
        if "pk>" not in route or route.startswith("admin"):
            continue
        path = "/" + route.strip("^$").replace("\\", "").replace("/?", "")
        path = path.replace("(?P<pk>[0-9]+)", pk).replace("<int:pk>", pk)
        for method in ("get", "post", "put", "patch", "delete"):
            response = getattr(client, method)(path, {}, format="json")
            assert response.status_code < 500, (method, path[:80], response.content[:200])
            tried += 1
    assert tried > 40
