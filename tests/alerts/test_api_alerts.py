"""The alert endpoints: overview, list with filters, detail, acknowledge, resolve, every role."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, timedelta
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from alerts.engine.lifecycle import apply_evaluation
from alerts.models import Alert, Rule
from tests.alerts.conftest import scalar, vector

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _frozen(clock: Any) -> Any:
    """The clock stops before any token is issued (a token from the future is refused)."""
    return clock


@pytest.fixture
def firing(make_rule: Callable[..., Rule], clock: Any) -> Alert:
    rule = make_rule(name="Queue Backup", slug="queue-backup", for_seconds=0, severity="error")
    apply_evaluation(rule=rule, result=vector(({"service": "payment"}, 500)), now=timezone.now())
    return Alert.objects.get(rule=rule)


@pytest.fixture
def pending(make_rule: Callable[..., Rule], clock: Any) -> Alert:
    rule = make_rule(name="Slow", slug="slow", for_seconds=600, severity="info")
    apply_evaluation(rule=rule, result=vector(({"service": "order"}, 500)), now=timezone.now())
    return Alert.objects.get(rule=rule)


@pytest.fixture
def resolved(make_rule: Callable[..., Rule], clock: Any, a_channel: Any) -> Alert:
    rule = make_rule(name="Gone", slug="gone", for_seconds=0, severity="critical")
    apply_evaluation(rule=rule, result=scalar(500), now=timezone.now())
    clock.shift(60)
    apply_evaluation(rule=rule, result=scalar(5), now=timezone.now())
    return Alert.objects.get(rule=rule)


def test_the_overview_lists_open_alerts_most_severe_first_and_recent_resolutions(
    viewer_client: APIClient, firing: Alert, pending: Alert, resolved: Alert
) -> None:
    response = viewer_client.get("/api/alerts")
    assert response.status_code == 200
    body = response.json()
    assert [item["id"] for item in body["active"]] == [firing.pk, pending.pk]
    assert [item["id"] for item in body["recent"]] == [resolved.pk]
    first = body["active"][0]
    assert first["state"] == "firing"
    assert first["labels"] == {"service": "payment"}
    assert first["value"] == 500.0
    assert first["rule"] == {"id": firing.rule_id, "slug": "queue-backup"}


def test_the_overview_needs_a_role(api_client: APIClient, client_for: Any, nobody: Any) -> None:
    assert api_client.get("/api/alerts").status_code == 401
    response = client_for(nobody).get("/api/alerts")
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("state=firing", ["firing"]),
        ("state=pending,resolved", ["resolved", "pending"]),
        ("severity=critical", ["resolved"]),
        ("rule=slow", ["pending"]),
        ("service=payment", ["firing"]),
        ("source=health", []),
    ],
)
def test_the_alert_list_filters(
    viewer_client: APIClient,
    firing: Alert,
    pending: Alert,
    resolved: Alert,
    query: str,
    expected: list[str],
) -> None:
    response = viewer_client.get(f"/api/v1/monitoring/alerts?{query}")
    assert response.status_code == 200
    states = [item["state"] for item in response.json()["results"]]
    assert sorted(states) == sorted(expected)


def test_the_alert_list_filters_by_time_and_pages(
    viewer_client: APIClient, firing: Alert, resolved: Alert, clock: Any
) -> None:
    after = (firing.started_at + timedelta(seconds=30)).isoformat()
    response = viewer_client.get("/api/v1/monitoring/alerts", {"since": after})
    assert [item["id"] for item in response.json()["results"]] == []
    response = viewer_client.get("/api/v1/monitoring/alerts", {"page_size": 1})
    body = response.json()
    assert body["count"] == 2
    assert len(body["results"]) == 1
    assert body["next"] is not None


def test_a_time_filter_is_exact_to_the_second_and_a_naive_one_is_refused(
    viewer_client: APIClient, firing: Alert
) -> None:
    # Found by mypy: the naive branch called timezone.utc, which Django 5 removed (a 500). A time
    # without an offset is ambiguous: it is refused, naming the field (docs/decisions.md).
    started = firing.started_at.astimezone(UTC)
    ids = {}
    for name, moment in (
        ("just_before", started - timedelta(seconds=1)),
        ("just_after", started + timedelta(seconds=1)),
    ):
        response = viewer_client.get("/api/v1/monitoring/alerts", {"since": moment.isoformat()})
        assert response.status_code == 200
        ids[name] = [item["id"] for item in response.json()["results"]]
    assert ids == {"just_before": [firing.pk], "just_after": []}
    naive = started.replace(tzinfo=None).isoformat()
    response = viewer_client.get("/api/v1/monitoring/alerts", {"since": naive})
    assert response.status_code == 400
    assert "since" in response.json()["details"]


@pytest.mark.parametrize(
    ("query", "field"),
    [("state=burning", "state"), ("severity=urgent", "severity"), ("since=yesterday", "since")],
)
def test_a_bad_filter_answers_400_naming_it(
    viewer_client: APIClient, query: str, field: str
) -> None:
    response = viewer_client.get(f"/api/v1/monitoring/alerts?{query}")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert field in body["details"]


def test_the_alert_detail_carries_its_event_timeline(
    viewer_client: APIClient, resolved: Alert
) -> None:
    response = viewer_client.get(f"/api/v1/monitoring/alerts/{resolved.pk}")
    assert response.status_code == 200
    body = response.json()
    assert [event["kind"] for event in body["events"]] == ["pending", "firing", "resolved"]
    assert body["events"][-1]["details"]["reason"] == "condition false"
    assert body["resolved_by"] == "engine"


def test_an_unknown_alert_is_404(viewer_client: APIClient, operator_client: APIClient) -> None:
    assert viewer_client.get("/api/v1/monitoring/alerts/999999").status_code == 404
    response = operator_client.post("/api/v1/monitoring/alerts/999999/acknowledge")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


@pytest.mark.parametrize(
    "path",
    ["/api/v1/monitoring/alerts/{id}/acknowledge", "/api/alerts/acknowledge/{id}"],
)
def test_an_operator_acknowledges_a_firing_alert(
    operator_client: APIClient, firing: Alert, path: str
) -> None:
    response = operator_client.post(path.format(id=firing.pk))
    assert response.status_code == 200
    body = response.json()
    assert body["state"] == "acknowledged"
    assert body["acknowledged_by"] == "otto-operator"
    assert body["events"][-1]["kind"] == "acknowledged"
    assert Alert.objects.get(pk=firing.pk).state == "acknowledged"


def test_acknowledging_a_resolved_alert_is_409_with_its_state(
    operator_client: APIClient, resolved: Alert
) -> None:
    response = operator_client.post(f"/api/v1/monitoring/alerts/{resolved.pk}/acknowledge")
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "conflict"
    assert body["details"] == {"state": "resolved"}
    assert Alert.objects.get(pk=resolved.pk).state == "resolved"


def test_acknowledging_a_pending_alert_is_409(operator_client: APIClient, pending: Alert) -> None:
    response = operator_client.post(f"/api/alerts/acknowledge/{pending.pk}")
    assert response.status_code == 409
    assert response.json()["details"] == {"state": "pending"}


def test_viewers_may_neither_acknowledge_nor_resolve(
    viewer_client: APIClient, firing: Alert
) -> None:
    for action in ("acknowledge", "resolve"):
        response = viewer_client.post(f"/api/v1/monitoring/alerts/{firing.pk}/{action}")
        assert response.status_code == 403
    assert Alert.objects.get(pk=firing.pk).state == "firing"


def test_an_admin_resolves_an_alert_and_a_second_resolve_is_409(
    admin_client_api: APIClient, firing: Alert
) -> None:
    response = admin_client_api.post(f"/api/v1/monitoring/alerts/{firing.pk}/resolve/")
    assert response.status_code == 200
    assert response.json()["state"] == "resolved"
    assert response.json()["resolved_by"] == "ada-admin"
    again = admin_client_api.post(f"/api/v1/monitoring/alerts/{firing.pk}/resolve")
    assert again.status_code == 409
    assert again.json()["details"] == {"state": "resolved"}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/v1/monitoring/alerts/99999999999999999999999"),
        ("post", "/api/v1/monitoring/alerts/99999999999999999999999/acknowledge"),
        ("post", "/api/alerts/acknowledge/99999999999999999999999"),
        ("get", "/api/v1/monitoring/alerts/rules/99999999999999999999999"),
    ],
)
def test_an_id_beyond_any_row_is_404_not_an_error(
    operator_client: APIClient, method: str, path: str
) -> None:
    response = getattr(operator_client, method)(path)
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_a_filter_on_an_absurd_rule_id_finds_nothing(viewer_client: APIClient) -> None:
    response = viewer_client.get("/api/v1/monitoring/alerts?rule=99999999999999999999999")
    assert response.status_code == 200
    assert response.json()["results"] == []
