"""Series limits (issue #10 item 6): per metric, and per metric and pushing service.

Before, one service could fill a metric's 1,000 label sets and every other service then got
``400 series_limit`` for that metric. Each service now has its own share
(``METRICS_MAX_SERIES_PER_SERVICE``) beside the metric's total (``METRICS_SERIES_LIMIT``).
"""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from metrics_app.models import Series
from metrics_app.services import create_ingest_token
from tests.metrics_app.conftest import Push

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clock")]


@pytest.fixture
def limits(settings: Any) -> tuple[int, int]:
    settings.METRICS_SERIES_LIMIT = 5
    settings.METRICS_MAX_SERIES_PER_SERVICE = 3
    return 5, 3


def token_client(service: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {create_ingest_token(service=service)[1]}")
    return client


def errors(*types: str) -> list[dict[str, Any]]:
    return [{"metric": "errors_total", "labels": {"type": t}, "value": 1} for t in types]


def test_one_service_cannot_starve_the_others_of_a_metric(push: Push, limits: Any) -> None:
    order = token_client("order")
    assert push(errors("a", "b", "c")).status_code == 202
    refused = push(errors("a", "d"))

    assert refused.status_code == 400
    assert refused.json() == {
        "status": 400,
        "code": "series_limit",
        "message": "Too many label sets for errors_total from service payment "
        "(METRICS_MAX_SERIES_PER_SERVICE is 3).",
        "details": {
            "metrics": {
                "errors_total": "payment would have 4 label sets of errors_total; "
                "the limit per service is 3 (METRICS_MAX_SERIES_PER_SERVICE)"
            },
            "limit": "METRICS_MAX_SERIES_PER_SERVICE",
            "limit_value": 3,
            "service": "payment",
        },
    }
    # Nothing of the refused batch was stored; the other service still has room.
    assert Series.objects.get(name="errors_total", labels__type="a").value == 1
    assert push(errors("x", "y"), client=order).status_code == 202
    assert Series.objects.filter(name="errors_total").count() == 5


def test_the_metric_limit_still_holds_for_all_services_together(push: Push, limits: Any) -> None:
    order, queue = token_client("order"), token_client("queue")
    assert push(errors("a", "b", "c")).status_code == 202
    assert push(errors("d", "e"), client=order).status_code == 202
    refused = push(errors("f"), client=queue)

    assert refused.status_code == 400
    body = refused.json()
    assert body["code"] == "series_limit"
    assert body["message"] == "Too many label sets for errors_total (METRICS_SERIES_LIMIT is 5)."
    assert body["details"] == {
        "metrics": {
            "errors_total": "errors_total would have 6 label sets; the limit is 5 "
            "(METRICS_SERIES_LIMIT)"
        },
        "limit": "METRICS_SERIES_LIMIT",
        "limit_value": 5,
    }


def test_a_service_at_its_limit_still_updates_its_existing_series(push: Push, limits: Any) -> None:
    assert push(errors("a", "b", "c")).status_code == 202
    assert push(errors("a", "b", "c", "a")).status_code == 202
    assert Series.objects.get(name="errors_total", labels__type="a").value == 3


def test_a_series_belongs_to_the_service_that_created_it(push: Push, limits: Any) -> None:
    order = token_client("order")
    assert push(errors("a", "b"), client=order).status_code == 202
    # payment now pushes the same label sets of its own service: new series, payment's share
    assert push(errors("a", "b", "c")).status_code == 202
    owners = sorted(Series.objects.values_list("labels__service", "service"))
    assert owners == [("order", "order")] * 2 + [("payment", "payment")] * 3


def test_an_admin_pushing_with_a_jwt_is_held_only_by_the_metric_limit(
    push: Push, limits: Any, admin_client_api: APIClient
) -> None:
    samples = [
        {"metric": "errors_total", "labels": {"type": t, "service": "batch"}, "value": 1}
        for t in "abcd"
    ]
    assert push(samples, client=admin_client_api).status_code == 202
    assert set(Series.objects.values_list("service", flat=True)) == {""}


def test_a_histogram_counts_one_label_set_per_service_for_all_its_parts(
    push: Push, limits: Any
) -> None:
    routes = [
        {"metric": "http_request_duration_ms", "labels": {"route": f"/r{i}"}, "value": 1}
        for i in range(3)
    ]
    assert push(routes).status_code == 202
    refused = push([{"metric": "http_request_duration_ms", "labels": {"route": "/r9"}, "value": 1}])
    assert refused.json()["details"]["limit"] == "METRICS_MAX_SERIES_PER_SERVICE"
    assert "http_request_duration_ms" in refused.json()["details"]["metrics"]
