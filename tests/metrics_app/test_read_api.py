"""Business figures, series lookup and series values over time (viewer role)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from rest_framework.test import APIClient

from metrics_app.aggregation import aggregate_rollups
from metrics_app.models import Bucket, Series
from tests.metrics_app.conftest import NOW, Push

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clock")]


def at(minutes_ago: float) -> float:
    return (NOW - timedelta(minutes=minutes_ago)).timestamp()


@pytest.fixture
def sales(push: Push) -> None:
    push(
        [
            {"metric": "tickets_sold_total", "value": 10, "timestamp": at(50)},
            {"metric": "tickets_sold_total", "value": 3, "timestamp": at(5)},
            {"metric": "revenue_total_cents", "labels": {"type": "primary"}, "value": 12000},
            {"metric": "revenue_total_cents", "labels": {"type": "resale"}, "value": 800},
            {"metric": "refunds_processed_total", "labels": {"reason": "cancelled"}, "value": 2},
            {"metric": "marketplace_active_listings", "value": 40, "timestamp": at(30)},
            {"metric": "marketplace_active_listings", "value": 37, "timestamp": at(1)},
        ]
    )
    # Sold two hours ago: in the totals and the 24h window, not in the last hour.
    Series.objects.filter(name="tickets_sold_total").update(value=20)
    series = Series.objects.get(name="tickets_sold_total")
    start = (NOW - timedelta(hours=2)).replace(second=0, microsecond=0)
    Bucket.objects.create(series=series, start=start, count=1, sum=7, min=7, max=7, last=7,
                          last_at=start)  # fmt: skip


def test_business_metrics_serve_the_stored_totals(viewer_client: APIClient, sales: None) -> None:
    response = viewer_client.get("/api/business-metrics")
    assert response.status_code == 200
    assert response.json() == {
        "totalTicketsSold": 20,
        "totalRevenue": 12800,
        "activeListings": 37,
        "totalRefunds": 2,
    }


@pytest.mark.parametrize(("window", "sold"), [("1h", 13), ("24h", 20), ("7d", 20)])
def test_business_metrics_for_a_window_come_from_the_buckets(
    viewer_client: APIClient, sales: None, window: str, sold: int
) -> None:
    aggregate_rollups()
    body = viewer_client.get(f"/api/business-metrics?window={window}").json()
    assert body == {
        "totalTicketsSold": sold,
        "totalRevenue": 12800,
        "activeListings": 37,
        "totalRefunds": 2,
        "window": window,
    }


def test_a_seven_day_window_reads_hourly_rollups_where_buckets_are_gone(
    client_for: Any, viewer: Any, push: Push, clock: Any
) -> None:
    push([{"metric": "tickets_sold_total", "value": 4}])
    aggregate_rollups()
    clock.shift(timedelta(days=3))
    Bucket.objects.all().delete()  # what retention does after 48 hours
    push([{"metric": "tickets_sold_total", "value": 1}])
    body = client_for(viewer).get("/api/business-metrics?window=7d").json()
    assert body["totalTicketsSold"] == 5


def test_an_unknown_window_is_a_400_naming_the_field(viewer_client: APIClient) -> None:
    response = viewer_client.get("/api/business-metrics?window=2w")
    assert response.status_code == 400
    assert "window" in response.json()["details"]


def test_business_metrics_need_the_viewer_role(client_for: Any, nobody: Any) -> None:
    assert client_for(nobody).get("/api/business-metrics").status_code == 403
    assert APIClient().get("/api/business-metrics").status_code == 401


def test_series_are_listed_by_metric_and_labels(viewer_client: APIClient, push: Push) -> None:
    push(
        [
            {"metric": "errors_total", "labels": {"type": "timeout"}, "value": 2},
            {"metric": "errors_total", "labels": {"type": "db"}, "value": 1},
            {"metric": "active_users", "value": 9},
        ]
    )
    response = viewer_client.get("/api/v1/metrics/series/?metric=errors_total&label=type=timeout")
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 1
    row = body["results"][0]
    assert (row["name"], row["labels"], row["value"]) == (
        "errors_total",
        {"service": "payment", "type": "timeout"},
        2.0,
    )
    everything = viewer_client.get("/api/v1/metrics/series").json()
    assert everything["count"] == 3


def test_a_malformed_label_filter_is_a_400(viewer_client: APIClient) -> None:
    response = viewer_client.get("/api/v1/metrics/series?label=type__contains=x")
    assert response.status_code == 400
    assert "label" in response.json()["details"]


def test_query_returns_a_series_minute_by_minute(viewer_client: APIClient, push: Push) -> None:
    push(
        [
            {"metric": "queue_size", "labels": {"queue": "q"}, "value": 5, "timestamp": at(3)},
            {"metric": "queue_size", "labels": {"queue": "q"}, "value": 7, "timestamp": at(3)},
            {"metric": "queue_size", "labels": {"queue": "q"}, "value": 1, "timestamp": at(1)},
        ]
    )
    series = Series.objects.get()
    response = viewer_client.get(
        f"/api/v1/metrics/query?series={series.pk}&start={at(10)}&resolution=1m"
    )
    assert response.status_code == 200
    body = response.json()
    assert body["resolution"] == 60
    assert [(p["count"], p["sum"], p["max"], p["mean"]) for p in body["points"]] == [
        (2, 12.0, 7.0, 6.0),
        (1, 1.0, 1.0, 1.0),
    ]


def test_query_reads_rollups_at_coarser_resolutions(viewer_client: APIClient, push: Push) -> None:
    push([{"metric": "active_users", "value": v, "timestamp": at(m)} for m, v in ((2, 3), (8, 5))])
    aggregate_rollups()
    body = viewer_client.get(
        "/api/v1/metrics/query?metric=active_users&label=service=payment"
        f"&start={at(60)}&resolution=5m"
    ).json()
    assert [(p["start"][11:16], p["last"]) for p in body["points"]] == [
        ("11:50", 5.0),
        ("11:55", 3.0),
    ]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("series=abc", "series"),
        ("", "series"),
        ("series=1&resolution=2m", "resolution"),
        ("series=1&start=tomorrow", "start"),
        ("series=1&start=2026-11-29T13:00:00Z&end=2026-11-29T12:00:00Z", "start"),
        ("series=1&start=2026-01-01T00:00:00Z&resolution=1m", "resolution"),
    ],
)
def test_query_refuses_bad_parameters_naming_the_field(
    viewer_client: APIClient, push: Push, query: str, field: str
) -> None:
    push([{"metric": "active_users", "value": 1}])
    series_id = Series.objects.get().pk
    response = viewer_client.get(
        f"/api/v1/metrics/query?{query}".replace("series=1", f"series={series_id}")
    )
    assert response.status_code == 400
    assert field in response.json()["details"]


def test_query_of_an_unknown_series_is_a_404(viewer_client: APIClient) -> None:
    assert viewer_client.get("/api/v1/metrics/query?series=999").status_code == 404
