"""POST /api/v1/monitoring/alerts/rules/validate and POST /api/v1/monitoring/query."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from tests.alerts.language.conftest import Store

VALIDATE = "/api/v1/monitoring/alerts/rules/validate"
QUERY = "/api/v1/monitoring/query"


@pytest.mark.parametrize("path", [VALIDATE, VALIDATE + "/", QUERY, QUERY + "/"])
@pytest.mark.parametrize("role", ["viewer", "operator", "admin"])
def test_every_role_from_viewer_up_may_validate_and_query(
    request: pytest.FixtureRequest,
    client_for: Callable[[User], APIClient],
    store: Store,
    path: str,
    role: str,
) -> None:
    client = client_for(request.getfixturevalue(role))
    response = client.post(path, {"expression": "sum(queue_size)"}, format="json")
    assert response.status_code == 200, response.json()


@pytest.mark.parametrize("path", [VALIDATE, QUERY])
def test_a_user_without_a_role_is_forbidden_and_anonymous_is_unauthenticated(
    client_for: Callable[[User], APIClient], nobody: User, api_client: APIClient, path: str
) -> None:
    forbidden = client_for(nobody).post(path, {"expression": "1"}, format="json")
    assert forbidden.status_code == 403
    assert forbidden.json()["code"] == "permission_denied"
    anonymous = api_client.post(path, {"expression": "1"}, format="json")
    assert anonymous.status_code == 401


def test_validate_answers_the_type_and_the_metrics(viewer_client: APIClient) -> None:
    response = viewer_client.post(
        VALIDATE,
        {"expression": 'sum(rate(errors_total{kind="x"}[5m])) / sum(rate(tickets_sold_total[5m]))'},
        format="json",
    )
    assert response.status_code == 200
    assert response.json() == {
        "valid": True,
        "type": "vector",
        "metrics": ["errors_total", "tickets_sold_total"],
        "warnings": ["label 'kind' is not a label of errors_total (known: service, type)"],
    }


def test_an_invalid_expression_is_a_400_with_its_position(viewer_client: APIClient) -> None:
    response = viewer_client.post(
        VALIDATE, {"expression": "sum(rate(tickets_sold_total[5m])"}, format="json"
    )
    assert response.status_code == 400
    assert response.json() == {
        "status": 400,
        "code": "invalid_expression",
        "message": "expression: unexpected end of input (line 1, column 33)",
        "details": {
            "expression": ["unexpected end of input"],
            "kind": "syntax",
            "line": 1,
            "column": 33,
            "position": 32,
            "expected": [")", ","],
        },
    }


def test_an_unknown_metric_is_a_400_naming_it(viewer_client: APIClient) -> None:
    response = viewer_client.post(VALIDATE, {"expression": "max(queue_sizes)"}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["details"]["expression"] == [
        "unknown metric 'queue_sizes'; did you mean 'queue_size'?"
    ]
    assert (body["details"]["kind"], body["details"]["column"]) == ("type", 5)


@pytest.mark.parametrize(
    ("payload", "field"),
    [({}, "expression"), ({"expression": 5}, "expression"), ([1, 2], "non_field_errors")],
)
def test_a_missing_or_malformed_expression_names_the_field(
    viewer_client: APIClient, payload: object, field: str
) -> None:
    response = viewer_client.post(VALIDATE, payload, format="json")
    assert response.status_code == 400
    assert field in response.json()["details"]


def test_an_over_long_expression_is_refused(viewer_client: APIClient) -> None:
    response = viewer_client.post(QUERY, {"expression": "1+" * 600 + "1"}, format="json")
    assert response.status_code == 400
    assert response.json()["details"]["position"] == 1000


def test_query_answers_the_current_vector(store: Store, viewer_client: APIClient) -> None:
    store.gauge("queue_size", {"service": "queue", "queue": "mint"}, m0=[12])
    store.gauge("queue_size", {"service": "queue", "queue": "email"}, m0=[3])
    response = viewer_client.post(QUERY, {"expression": "queue_size * 2"}, format="json")
    assert response.status_code == 200
    assert response.json() == {
        "type": "vector",
        "time": "2026-11-29T12:00:30Z",
        "warnings": [],
        "result": [
            {"labels": {"queue": "email", "service": "queue"}, "value": 6.0},
            {"labels": {"queue": "mint", "service": "queue"}, "value": 24.0},
        ],
    }


@pytest.mark.parametrize("when", ["2026-11-29T11:50:10Z", 1795953010, "1795953010"])
def test_query_evaluates_at_the_time_asked(
    store: Store, viewer_client: APIClient, when: object
) -> None:
    store.counter("tickets_sold_total", {"service": "ticket"}).add(0, 5).add(10, 2)
    response = viewer_client.post(
        QUERY, {"expression": "sum(increase(tickets_sold_total[1m]))", "time": when}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["time"] == "2026-11-29T11:50:10Z"
    assert response.json()["result"] == [{"labels": {}, "value": 2.0}]


def test_query_sends_non_finite_values_as_strings(store: Store, viewer_client: APIClient) -> None:
    response = viewer_client.post(QUERY, {"expression": "1 / 0"}, format="json")
    assert response.json()["result"] == "+Inf"
    response = viewer_client.post(QUERY, {"expression": "0 / 0"}, format="json")
    assert (response.json()["type"], response.json()["result"]) == ("scalar", "NaN")


@pytest.mark.parametrize(
    "when",
    [
        "yesterday",
        "2026-11-29T12:00:00",
        True,
        1e30,
        {"a": 1},
        "0001-01-01T00:00:00Z",
        "2026-12-01T00:00:00Z",
        -1e12,
        "nan",
    ],
)
def test_query_refuses_a_time_that_is_not_one(
    store: Store, viewer_client: APIClient, when: object
) -> None:
    response = viewer_client.post(QUERY, {"expression": "1", "time": when}, format="json")
    assert response.status_code == 400
    assert "time" in response.json()["details"]


def test_query_of_an_invalid_expression_is_a_400(store: Store, viewer_client: APIClient) -> None:
    response = viewer_client.post(QUERY, {"expression": "rate(queue_size[5m])"}, format="json")
    assert response.status_code == 400
    assert response.json()["details"]["kind"] == "type"
