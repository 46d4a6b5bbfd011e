"""The catalogue, admin-registered metrics, and the admin pages of metrics_app."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client

from metrics_app.catalogue import CATALOGUE, all_metrics, get_metric, resolve_series_name
from metrics_app.docs import render_catalogue
from metrics_app.models import IngestToken, MetricDefinition, Series
from metrics_app.services import hash_token
from tests.metrics_app.conftest import Push

pytestmark = pytest.mark.django_db


def test_every_platform_metric_carries_a_service_label_and_bounded_labels() -> None:
    for spec in CATALOGUE:
        if not spec.name.startswith("system_"):
            assert spec.labels[0] == "service", spec.name
        assert not {"id", "user_id", "email", "order_id"} & set(spec.labels)
        if spec.type == "histogram":
            assert list(spec.buckets) == sorted(set(spec.buckets)) and spec.buckets


def test_stored_series_names_resolve_to_their_family_and_part() -> None:
    histogram = get_metric("http_request_duration_ms")
    summary = get_metric("api_response_time_ms")
    counter = get_metric("tickets_sold_total")
    assert resolve_series_name("tickets_sold_total") == (counter, "")
    assert resolve_series_name("http_request_duration_ms_bucket") == (histogram, "bucket")
    assert resolve_series_name("http_request_duration_ms_count") == (histogram, "count")
    assert resolve_series_name("api_response_time_ms_sum") == (summary, "sum")
    assert resolve_series_name("api_response_time_ms_bucket") is None
    assert resolve_series_name("tickets_sold_total_count") is None
    assert resolve_series_name("nothing_like_it") is None


def test_an_enabled_admin_registered_metric_joins_the_catalogue() -> None:
    MetricDefinition.objects.create(
        name="checkout_step_duration_ms",
        type="histogram",
        help="Checkout step time.",
        unit="milliseconds",
        label_names=["service", "step"],
        buckets=[100, 10, 1000],
    )
    MetricDefinition.objects.create(name="retired_total", type="counter", help="x", enabled=False)
    spec = get_metric("checkout_step_duration_ms")
    assert spec is not None
    assert (spec.labels, spec.buckets) == (("service", "step"), (10.0, 100.0, 1000.0))
    assert resolve_series_name("checkout_step_duration_ms_bucket") == (spec, "bucket")
    assert get_metric("retired_total") is None
    assert [m.name for m in all_metrics()][-1] == "checkout_step_duration_ms"


def test_an_admin_registered_metric_accepts_samples_and_is_exposed(
    push: Push, client: Client
) -> None:
    MetricDefinition.objects.create(
        name="seat_map_renders_total", type="counter", help="Seat maps.", label_names=["service"]
    )
    assert push([{"metric": "seat_map_renders_total", "value": 3}]).status_code == 202
    text = client.get("/metrics", REMOTE_ADDR="127.0.0.1").content.decode()
    assert 'seat_map_renders_total{service="payment"} 3.0' in text


def test_docs_render_the_whole_catalogue() -> None:
    text = (Path(settings.BASE_DIR) / "docs" / "metrics.md").read_text()
    assert render_catalogue() in text
    for spec in CATALOGUE:
        assert f"`{spec.name}`" in text


# --- admin ---------------------------------------------------------------------------------------


@pytest.fixture
def admin_web(admin: User) -> Client:
    from monitoring_site.bootstrap import seed_roles

    seed_roles(lambda message: None)
    client = Client()
    client.force_login(admin)
    return client


@pytest.mark.parametrize(
    ("name", "labels", "error"),
    [
        ("9lives_total", '["service"]', "not starting with a digit"),
        ("with-dash", '["service"]', "letters, digits and underscores"),
        ("tickets_sold_total", '["service"]', "built-in catalogue"),
        ("http_request_duration_ms_bucket", '["service"]', "series of the built-in metric"),
        ("ok_total", '["le"]', "reserved"),
        ("ok_total", '["user-id"]', "letters, digits and underscores"),
        # `$` matches before a final newline: names are matched whole (\Z), not up to one.
        ("ok_total", '["user\\n"]', "letters, digits and underscores"),
        ("ok_total", '"service"', "list of label names"),
    ],
)
def test_the_admin_refuses_names_that_break_prometheus_rules(
    admin_web: Client, name: str, labels: str, error: str
) -> None:
    response = admin_web.post(
        "/admin/metrics_app/metricdefinition/add/",
        {"name": name, "type": "counter", "help": "h", "label_names": labels, "buckets": "[]",
         "enabled": "on"},
    )  # fmt: skip
    assert response.status_code == 200
    assert error in response.content.decode()
    assert not MetricDefinition.objects.exists()


def test_a_histogram_needs_increasing_buckets(admin_web: Client) -> None:
    data = {"name": "x_ms", "type": "histogram", "help": "h", "label_names": "[]"}
    empty = admin_web.post("/admin/metrics_app/metricdefinition/add/", {**data, "buckets": "[]"})
    assert "needs its bucket bounds" in empty.content.decode()
    unordered = admin_web.post(
        "/admin/metrics_app/metricdefinition/add/", {**data, "buckets": "[5, 1]"}
    )
    assert "strictly increasing" in unordered.content.decode()
    good = admin_web.post("/admin/metrics_app/metricdefinition/add/", {**data, "buckets": "[1, 5]"})
    assert good.status_code == 302
    assert MetricDefinition.objects.get().buckets == [1.0, 5.0]


def test_creating_an_ingest_token_in_the_admin_shows_it_once(admin_web: Client) -> None:
    response = admin_web.post(
        "/admin/metrics_app/ingesttoken/add/",
        {"name": "payment pods", "service": "payment"},
        follow=True,
    )
    page = response.content.decode()
    raw = re.search(r"(mtk_[0-9a-f]{8}_[A-Za-z0-9_\-]+)", page)
    assert raw is not None
    token = IngestToken.objects.get()
    assert token.key_hash == hash_token(raw.group(1))
    assert token.created_by is not None
    again = admin_web.get(f"/admin/metrics_app/ingesttoken/{token.pk}/change/").content.decode()
    assert raw.group(1) not in again


def test_the_revoke_action_revokes_tokens(admin_web: Client) -> None:
    from metrics_app.services import create_ingest_token

    token, _raw = create_ingest_token(service="order")
    response = admin_web.post(
        "/admin/metrics_app/ingesttoken/",
        {"action": "revoke", "_selected_action": [token.pk]},
        follow=True,
    )
    assert "Revoked 1 token" in response.content.decode()
    token.refresh_from_db()
    assert token.revoked_at is not None


def test_series_are_read_only_in_the_admin(admin_web: Client, push: Push) -> None:
    push([{"metric": "active_users", "value": 1}])
    series = Series.objects.get()
    assert admin_web.get("/admin/metrics_app/series/").status_code == 200
    assert admin_web.get("/admin/metrics_app/series/add/").status_code == 403
    change = admin_web.post(f"/admin/metrics_app/series/{series.pk}/change/", {"value": "9"})
    assert change.status_code == 403
    series.refresh_from_db()
    assert series.value == 1


def test_an_ingest_token_shows_only_its_prefix_after_it_is_created(
    admin_web: Client, operator: User
) -> None:
    from django.contrib.admin.models import LogEntry

    admin_web.post(
        "/admin/metrics_app/ingesttoken/add/", {"name": "payment pods", "service": "payment"}
    )
    token = IngestToken.objects.get()
    reader = Client()
    reader.force_login(operator)

    pages = [
        client.get(f"/admin/metrics_app/ingesttoken/{path}").content.decode()
        for client in (admin_web, reader)
        for path in ("", f"{token.pk}/change/", f"{token.pk}/history/")
    ]

    assert all(token.prefix in page for page in pages[::3])
    assert not [page for page in pages if token.key_hash in page or "key_hash" in page]
    entry = LogEntry.objects.get(object_id=str(token.pk))
    assert token.key_hash not in entry.change_message + entry.object_repr
