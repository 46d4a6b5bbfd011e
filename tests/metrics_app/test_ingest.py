"""POST /api/v1/metrics/ingest: who may push, what is refused, and exactly what is stored."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from metrics_app.models import Bucket, IngestToken, Series
from metrics_app.services import revoke_ingest_token
from tests.metrics_app.conftest import INGEST_URL, NOW, Push, stored

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clock")]


def post_raw(client: APIClient, body: bytes | str, content_type: str = "application/json") -> Any:
    return client.post(INGEST_URL, body, content_type=content_type)


# --- authentication ------------------------------------------------------------------------------


def test_a_service_token_pushes_and_gets_202_with_the_number_accepted(push: Push) -> None:
    response = push([{"metric": "tickets_sold_total", "value": 2}] * 3)
    assert response.status_code == 202
    assert response.json() == {"accepted": 3}
    assert stored("tickets_sold_total", service="payment") == 6


def test_no_token_is_refused_with_401(api_client: APIClient) -> None:
    response = post_raw(api_client, json.dumps({"samples": []}))
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


def test_a_wrong_token_with_the_ingest_prefix_is_refused_with_401(
    api_client: APIClient, token: tuple[IngestToken, str]
) -> None:
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {token[1]}x")
    response = post_raw(api_client, json.dumps({"samples": []}))
    assert response.status_code == 401
    assert "Ingest token" in response.json()["message"]


def test_a_revoked_token_is_refused_with_401(
    ingest_client: APIClient, token: tuple[IngestToken, str]
) -> None:
    assert revoke_ingest_token(token=token[0]) is True
    response = post_raw(ingest_client, json.dumps({"samples": []}))
    assert response.status_code == 401
    assert Series.objects.count() == 0


def test_the_token_is_stored_only_as_a_hash_and_its_use_is_recorded(
    push: Push, token: tuple[IngestToken, str]
) -> None:
    row, raw = token
    assert raw.startswith(row.prefix)
    assert raw not in (row.key_hash, row.prefix)
    push([{"metric": "tickets_sold_total", "value": 1}])
    row.refresh_from_db()
    assert row.last_used_at == NOW


def test_an_admin_jwt_may_push_for_any_service(admin_client_api: APIClient, push: Push) -> None:
    sample = {"metric": "tickets_sold_total", "labels": {"service": "order"}, "value": 4}
    response = push([sample], client=admin_client_api)
    assert response.status_code == 202
    assert stored("tickets_sold_total", service="order") == 4


def test_a_viewer_jwt_may_not_push(viewer_client: APIClient, push: Push) -> None:
    response = push([{"metric": "tickets_sold_total", "value": 1}], client=viewer_client)
    assert response.status_code == 403
    assert Series.objects.count() == 0


def test_create_ingest_token_command_prints_the_token_once(capsys: Any) -> None:
    call_command("create_ingest_token", "ticket", "--multi-service")
    out = capsys.readouterr()
    raw = out.out.strip()
    row = IngestToken.objects.get()
    assert raw.startswith("mtk_") and raw.startswith(row.prefix)
    assert (row.service, row.multi_service) == ("ticket", True)
    assert raw not in out.err


def test_ingest_is_throttled_per_token(
    push: Push, monkeypatch: pytest.MonkeyPatch, admin_client_api: APIClient
) -> None:
    from metrics_app.api.auth import IngestThrottle

    monkeypatch.setattr(IngestThrottle, "THROTTLE_RATES", {"ingest": "2/min"})
    statuses = [push([{"metric": "active_users", "value": 1}]).status_code for _ in range(3)]
    assert statuses == [202, 202, 429]
    # Another principal has its own allowance.
    assert push([{"metric": "active_users", "value": 1}], admin_client_api).status_code == 202


# --- the service label ---------------------------------------------------------------------------


def test_the_service_label_defaults_to_the_tokens_service(push: Push) -> None:
    push([{"metric": "errors_total", "labels": {"type": "timeout"}, "value": 1}])
    assert Series.objects.get().labels == {"service": "payment", "type": "timeout"}


def test_another_service_label_is_refused_unless_the_token_is_multi_service(
    push: Push, token: tuple[IngestToken, str]
) -> None:
    sample = {"metric": "tickets_sold_total", "labels": {"service": "order"}, "value": 1}
    refused = push([sample])
    assert refused.status_code == 400
    assert "labels.service" in refused.json()["details"]["samples"]["0"]
    IngestToken.objects.filter(pk=token[0].pk).update(multi_service=True)
    assert push([sample]).status_code == 202
    assert stored("tickets_sold_total", service="order") == 1


# --- bad input -----------------------------------------------------------------------------------

BAD_SAMPLES = [
    ({"metric": "no_such_metric", "value": 1}, "metric: unknown metric"),
    ({"metric": "tickets_sold_total", "value": "3"}, "value: expected a number"),
    ({"metric": "tickets_sold_total", "value": True}, "value: expected a number"),
    ({"metric": "tickets_sold_total", "value": -1}, "counter increment must be >= 0"),
    ({"metric": "tickets_sold_total"}, "value: required"),
    ({"metric": "errors_total", "labels": {"user_id": "42"}, "value": 1}, "labels.user_id"),
    ({"metric": "errors_total", "labels": {"type": "x" * 129}, "value": 1}, "128 characters"),
    ({"metric": "errors_total", "labels": {"type": 5}, "value": 1}, "labels.type: expected"),
    ({"metric": "errors_total", "labels": ["type"], "value": 1}, "labels: expected an object"),
    ({"metric": "active_users", "observations": [1]}, "observations: only for histograms"),
    ({"metric": "http_request_duration_ms", "observations": []}, "observations: expected"),
    ({"metric": "http_request_duration_ms", "observations": [1, "x"]}, "observations[1]"),
    ({"metric": "active_users", "value": 1, "extra": 1}, "extra: unknown field"),
    ({"metric": "active_users", "value": 1, "timestamp": "yesterday"}, "timestamp: expected"),
    ({"metric": "active_users", "value": 1, "timestamp": "2026-11-29T12:00:00"}, "UTC offset"),
    ("tickets_sold_total", "expected an object"),
]


@pytest.mark.parametrize(("sample", "reason"), BAD_SAMPLES)
def test_a_bad_sample_is_refused_with_its_reason_and_nothing_is_stored(
    push: Push, sample: Any, reason: str
) -> None:
    good = {"metric": "tickets_sold_total", "value": 1}
    response = push([good, sample])
    assert response.status_code == 400
    body = response.json()
    assert list(body["details"]["samples"]) == ["1"]
    assert reason in body["details"]["samples"]["1"]
    assert Series.objects.count() == 0


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_refused(ingest_client: APIClient, literal: str) -> None:
    body = '{"samples": [{"metric": "active_users", "value": LITERAL}]}'.replace("LITERAL", literal)
    response = post_raw(ingest_client, body)
    assert response.status_code == 400
    assert "NaN and infinity" in response.json()["details"]["samples"]["0"]
    assert Series.objects.count() == 0


@pytest.mark.parametrize(
    ("offset", "accepted"),
    [
        (timedelta(seconds=-3600), True),
        (timedelta(seconds=-3601), False),
        (timedelta(seconds=300), True),
        (timedelta(seconds=301), False),
    ],
)
def test_timestamps_are_accepted_from_one_hour_ago_to_five_minutes_ahead(
    push: Push, offset: timedelta, accepted: bool
) -> None:
    at = NOW + offset
    response = push([{"metric": "active_users", "value": 1, "timestamp": at.timestamp()}])
    assert response.status_code == (202 if accepted else 400)
    assert Series.objects.count() == (1 if accepted else 0)


def test_the_accepted_lateness_is_configurable(push: Push, settings: Any) -> None:
    settings.METRICS_MAX_SAMPLE_AGE_SECONDS = 7200
    at = (NOW - timedelta(minutes=90)).isoformat()
    assert push([{"metric": "active_users", "value": 1, "timestamp": at}]).status_code == 202


def test_every_bad_sample_of_a_request_is_reported(push: Push) -> None:
    response = push(
        [
            {"metric": "nope", "value": 1},
            {"metric": "active_users", "value": 1},
            {"metric": "tickets_sold_total", "value": -2},
        ]
    )
    assert sorted(response.json()["details"]["samples"]) == ["0", "2"]


def test_malformed_json_is_a_400(ingest_client: APIClient) -> None:
    response = post_raw(ingest_client, '{"samples": [')
    assert response.status_code == 400
    assert "Malformed JSON" in response.json()["details"]["body"][0]


def test_a_body_without_a_samples_list_is_a_400(ingest_client: APIClient) -> None:
    response = post_raw(ingest_client, '{"metric": "active_users"}')
    assert response.status_code == 400
    assert "samples" in response.json()["details"]


def test_a_wrong_content_type_is_a_400(ingest_client: APIClient) -> None:
    response = post_raw(ingest_client, "metric=active_users", "application/x-www-form-urlencoded")
    assert response.status_code == 400
    assert "application/json" in response.json()["details"]["content_type"][0]


def test_a_body_over_one_megabyte_is_a_413(ingest_client: APIClient) -> None:
    filler = [{"metric": "active_users", "value": 1}] * 40_000
    body = json.dumps({"samples": filler})
    assert len(body) > 1_048_576
    response = post_raw(ingest_client, body)
    assert response.status_code == 413
    assert Series.objects.count() == 0


def test_more_than_five_thousand_samples_is_a_413(push: Push) -> None:
    response = push([{"metric": "active_users", "value": 1}] * 5001)
    assert response.status_code == 413
    assert Series.objects.count() == 0


# --- what is stored ------------------------------------------------------------------------------


def test_a_counter_batch_stores_the_total_and_per_minute_increments(push: Push) -> None:
    minute_ago = (NOW - timedelta(minutes=1)).timestamp()
    push(
        [
            {"metric": "revenue_total_cents", "labels": {"type": "primary"}, "value": 1500},
            {"metric": "revenue_total_cents", "labels": {"type": "primary"}, "value": 250},
            {
                "metric": "revenue_total_cents",
                "labels": {"type": "primary"},
                "value": 100,
                "timestamp": minute_ago,
            },
            {"metric": "revenue_total_cents", "labels": {"type": "resale"}, "value": 70},
        ]
    )
    push([{"metric": "revenue_total_cents", "labels": {"type": "primary"}, "value": 5}])
    assert stored("revenue_total_cents", service="payment", type="primary") == 1855
    assert stored("revenue_total_cents", service="payment", type="resale") == 70
    buckets = Bucket.objects.filter(series__labels_key__contains="primary").order_by("start")
    assert [(b.start.minute, b.count, b.sum, b.min, b.max) for b in buckets] == [
        (59, 1, 100.0, 100.0, 100.0),
        (0, 3, 1755.0, 5.0, 1500.0),
    ]


def test_a_gauge_keeps_the_value_with_the_latest_timestamp(push: Push) -> None:
    earlier = (NOW - timedelta(seconds=20)).isoformat()
    later = (NOW - timedelta(seconds=10)).isoformat()
    push(
        [
            {"metric": "queue_size", "labels": {"queue": "mint"}, "value": 9, "timestamp": later},
            {"metric": "queue_size", "labels": {"queue": "mint"}, "value": 4, "timestamp": earlier},
        ]
    )
    # A late sample in a second request does not overwrite a newer value either.
    push([{"metric": "queue_size", "labels": {"queue": "mint"}, "value": 1, "timestamp": earlier}])
    series = Series.objects.get(name="queue_size")
    assert (series.value, series.kind) == (9, "gauge")
    assert series.value_at == datetime.fromisoformat(later)
    bucket = Bucket.objects.get(series=series)
    assert (bucket.count, bucket.sum, bucket.min, bucket.max, bucket.last) == (3, 14, 1, 9, 9)


def test_a_histogram_batch_stores_cumulative_buckets_sum_and_count(push: Push) -> None:
    labels = {"route": "/orders", "method": "GET"}
    push(
        [
            {"metric": "http_request_duration_ms", "labels": labels, "observations": [3, 30, 30]},
            {"metric": "http_request_duration_ms", "labels": labels, "value": 20000},
        ]
    )
    full = {**labels, "service": "payment"}
    bucket_values = {
        s.labels["le"]: s.value
        for s in Series.objects.filter(name="http_request_duration_ms_bucket")
    }
    assert bucket_values == {
        "5": 1, "10": 1, "25": 1, "50": 3, "100": 3, "250": 3, "500": 3, "1000": 3,
        "2500": 3, "5000": 3, "10000": 3, "+Inf": 4,
    }  # fmt: skip
    assert stored("http_request_duration_ms_sum", **full) == 20063
    assert stored("http_request_duration_ms_count", **full) == 4
    sum_bucket = Bucket.objects.get(series__name="http_request_duration_ms_sum")
    assert (sum_bucket.count, sum_bucket.min, sum_bucket.max) == (4, 3, 20000)


def test_a_summary_stores_only_sum_and_count(push: Push) -> None:
    push([{"metric": "api_response_time_ms", "labels": {"route": "/x"}, "observations": [5, 7]}])
    names = sorted(Series.objects.values_list("name", flat=True))
    assert names == ["api_response_time_ms_count", "api_response_time_ms_sum"]
    assert stored("api_response_time_ms_sum", route="/x", service="payment") == 12


def test_late_samples_land_in_their_own_minute(push: Push) -> None:
    late = NOW - timedelta(minutes=42, seconds=5)
    push([{"metric": "nft_minted_total", "value": 3, "timestamp": late.isoformat()}])
    bucket = Bucket.objects.get()
    assert bucket.start == datetime(2026, 11, 29, 11, 18, tzinfo=UTC)
    assert bucket.sum == 3


def test_a_batch_costs_the_same_queries_whatever_its_size(push: Push) -> None:
    def queries(size: int, service: str) -> int:
        samples = [
            {"metric": "errors_total", "labels": {"type": f"t{i % 50}"}, "value": 1,
             "timestamp": (NOW - timedelta(seconds=i % 600)).timestamp()}
            for i in range(size)
        ]  # fmt: skip
        with CaptureQueriesContext(connection) as captured:
            assert push(samples).status_code == 202
        return len(captured.captured_queries)

    small = queries(10, "a")
    large = queries(2000, "b")
    assert large <= small
    assert stored("errors_total", service="payment", type="t0") == 1 + 40


def test_a_series_over_the_limit_is_refused_with_code_series_limit(
    push: Push, small_series_limit: int
) -> None:
    for kind in ("a", "b", "c"):
        push([{"metric": "errors_total", "labels": {"type": kind}, "value": 1}])
    response = push(
        [
            {"metric": "errors_total", "labels": {"type": "a"}, "value": 1},
            {"metric": "errors_total", "labels": {"type": "d"}, "value": 1},
        ]
    )
    assert response.status_code == 400
    assert response.json()["code"] == "series_limit"
    assert "errors_total" in response.json()["details"]["metrics"]
    # Nothing of the refused request was stored, and existing series still take samples.
    assert stored("errors_total", service="payment", type="a") == 1
    again = push([{"metric": "errors_total", "labels": {"type": "b"}, "value": 1}])
    assert again.status_code == 202


def test_a_histogram_counts_one_label_set_for_all_its_buckets(
    push: Push, small_series_limit: int
) -> None:
    routes = [f"/r{i}" for i in range(3)]
    samples = [
        {"metric": "http_request_duration_ms", "labels": {"route": r}, "value": 1} for r in routes
    ]
    assert push(samples).status_code == 202
    refused = push([{"metric": "http_request_duration_ms", "labels": {"route": "/r9"}, "value": 1}])
    assert refused.json()["code"] == "series_limit"
