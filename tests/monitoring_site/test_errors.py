"""One JSON error shape under /api/ for every status; trailing slashes; one pagination shape."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from monitoring_site.api.errors import _validation_message
from monitoring_site.models import JobRun

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.monitoring_site.urls_testing")]


def error_of(response: Any, status: int) -> dict[str, Any]:
    """The body of an error response, after checking it is the one JSON shape."""
    assert response.status_code == status
    assert response["Content-Type"].startswith("application/json")
    body = json.loads(response.content)
    assert body["status"] == status
    assert isinstance(body["code"], str) and body["code"]
    assert isinstance(body["message"], str) and body["message"]
    assert set(body) <= {"status", "code", "message", "details"}
    assert b"<html" not in response.content.lower()
    return body


def test_400_names_each_invalid_field(api_client: APIClient) -> None:
    body = error_of(api_client.get("/api/test/errors/validation"), 400)
    assert body["code"] == "invalid"
    assert set(body["details"]) == {"name", "size"}
    assert body["message"].startswith("name: ")


def test_400_with_a_specific_machine_code(api_client: APIClient) -> None:
    body = error_of(api_client.get("/api/test/errors/coded"), 400)
    assert body == {
        "status": 400,
        "code": "series_limit",
        "message": "Too many series for this metric.",
        "details": {"labels": ["at most 100 label sets"]},
    }


def test_400_for_malformed_json(api_client: APIClient) -> None:
    response = api_client.post("/api/test/echo", data=b'{"a": ', content_type="application/json")
    body = error_of(response, 400)
    assert body["code"] == "parse_error"
    assert "JSON" in body["message"]


def test_401_without_credentials(api_client: APIClient) -> None:
    body = error_of(api_client.get("/api/test/viewer"), 401)
    assert body["code"] == "not_authenticated"


def test_403_for_a_user_without_the_role(client_for: Any, nobody: User) -> None:
    body = error_of(client_for(nobody).get("/api/test/viewer"), 403)
    assert body["code"] == "permission_denied"


def test_403_from_djangos_permission_denied_hides_its_text(api_client: APIClient) -> None:
    body = error_of(api_client.get("/api/test/errors/forbidden"), 403)
    assert "secret" not in body["message"]


@pytest.mark.parametrize("path", ["/api/no-such-thing", "/api/no-such-thing/", "/api/v1/x/1"])
def test_404_for_an_unknown_api_path(path: str) -> None:
    body = error_of(Client().get(path), 404)
    assert body["code"] == "not_found"


def test_404_raised_by_a_view(api_client: APIClient) -> None:
    body = error_of(api_client.get("/api/test/errors/missing"), 404)
    assert body["code"] == "not_found"


def test_404_for_the_bare_api_prefix() -> None:
    error_of(Client().get("/api"), 404)


def test_403_for_a_csrf_failure_on_a_plain_api_view_is_json() -> None:
    response = Client(enforce_csrf_checks=True).post("/api/test/plain-form", {"a": "1"})
    body = error_of(response, 403)
    assert body["message"].startswith("CSRF Failed")


def test_a_csrf_failure_on_a_page_stays_html() -> None:
    response = Client(enforce_csrf_checks=True).post("/admin/login/", {"username": "x"})
    assert response.status_code == 403
    assert response["Content-Type"].startswith("text/html")


def test_406_for_an_unacceptable_response_format(viewer_client: APIClient) -> None:
    body = error_of(viewer_client.get("/api/test/viewer", HTTP_ACCEPT="application/xml"), 406)
    assert body["code"] == "not_acceptable"


def test_unknown_pages_outside_the_api_stay_html() -> None:
    response = Client().get("/no-such-page")
    assert response.status_code == 404
    assert not response["Content-Type"].startswith("application/json")


def test_405_for_a_method_the_endpoint_does_not_have(viewer_client: APIClient) -> None:
    body = error_of(viewer_client.delete("/api/test/viewer"), 405)
    assert body["code"] == "method_not_allowed"
    assert "DELETE" in body["message"]


def test_409_carries_its_details(api_client: APIClient) -> None:
    body = error_of(api_client.get("/api/test/errors/conflict"), 409)
    assert body == {
        "status": 409,
        "code": "conflict",
        "message": "The alert is already resolved.",
        "details": {"state": "resolved"},
    }


def test_413_for_a_body_larger_than_max_request_bytes(api_client: APIClient, settings: Any) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2048
    small = api_client.post("/api/test/echo", {"a": "x" * 100}, format="json")
    assert small.status_code == 200
    assert small.json() == {"keys": ["a"]}
    large = api_client.post("/api/test/echo", {"a": "x" * 4096}, format="json")
    body = error_of(large, 413)
    assert body["code"] == "payload_too_large"
    assert "2048" in body["message"]


def test_413_for_a_large_form_body_too(settings: Any) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2048
    response = Client().post("/api/test/echo", {"a": "x" * 4096})
    error_of(response, 413)


def test_413_from_a_plain_django_view_under_api(settings: Any) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2048
    client = Client()
    ok = client.post("/api/test/plain-body", b"x" * 100, content_type="text/plain")
    assert ok.content == b"100"
    error_of(client.post("/api/test/plain-body", b"x" * 4096, content_type="text/plain"), 413)


def test_415_for_an_unsupported_content_type(api_client: APIClient) -> None:
    response = api_client.post("/api/test/echo", data=b"<a/>", content_type="application/xml")
    body = error_of(response, 415)
    assert body["code"] == "unsupported_media_type"


def test_429_when_throttled_says_when_to_retry(api_client: APIClient) -> None:
    for _ in range(3):
        assert api_client.get("/api/test/throttled").status_code == 200
    response = api_client.get("/api/test/throttled")
    body = error_of(response, 429)
    assert body["code"] == "throttled"
    assert 0 < int(response["Retry-After"]) <= 60


def test_500_from_an_api_view_is_json_and_does_not_leak_the_error(api_client: APIClient) -> None:
    body = error_of(api_client.get("/api/test/errors/crash"), 500)
    assert body == {"status": 500, "code": "server_error", "message": "Internal server error."}


def test_500_from_a_plain_django_view_under_api_is_json_too() -> None:
    client = Client(raise_request_exception=False)
    body = error_of(client.get("/api/test/plain-crash"), 500)
    assert body["code"] == "server_error"


def test_400_from_a_bad_host_header_is_json() -> None:
    response = Client(HTTP_HOST="evil.example.com").get("/api/test/viewer")
    body = error_of(response, 400)
    assert body["code"] == "invalid"


@pytest.mark.parametrize("path", ["/api/auth/token", "/api/auth/token/"])
def test_api_paths_answer_with_and_without_a_trailing_slash(
    api_client: APIClient, viewer: User, path: str
) -> None:
    response = api_client.post(
        path, {"username": viewer.username, "password": "wrong"}, format="json"
    )
    assert response.status_code == 401  # reached the view; no redirect
    assert "Location" not in response


@pytest.mark.parametrize("path", ["/api/test/job-runs", "/api/test/job-runs/"])
def test_router_lists_answer_with_and_without_a_trailing_slash(
    viewer_client: APIClient, path: str
) -> None:
    response = viewer_client.get(path)
    assert response.status_code == 200
    assert response.json()["count"] == 0


def test_router_details_are_addressed_by_id_with_or_without_slash(
    viewer_client: APIClient,
) -> None:
    run = JobRun.objects.create(job="cleanup", started_at=timezone.now())
    for path in (f"/api/test/job-runs/{run.pk}", f"/api/test/job-runs/{run.pk}/"):
        response = viewer_client.get(path)
        assert response.status_code == 200
        assert response.json() == {"id": run.pk, "job": "cleanup", "outcome": "running"}
    error_of(viewer_client.get(f"/api/test/job-runs/{run.pk + 1000}"), 404)


def test_no_api_path_redirects(viewer_client: APIClient) -> None:
    for path in ("/api/test/viewer", "/api/test/viewer/", "/status", "/status/", "/api/schema/"):
        assert viewer_client.get(path).status_code == 200, path


def test_every_list_has_one_pagination_shape(viewer_client: APIClient) -> None:
    now = timezone.now()
    JobRun.objects.bulk_create(JobRun(job=f"job-{i}", started_at=now) for i in range(5))
    first = viewer_client.get("/api/test/job-runs?page_size=2").json()
    assert set(first) == {"count", "next", "previous", "results"}
    assert first["count"] == 5
    assert first["previous"] is None
    assert [row["job"] for row in first["results"]] == ["job-0", "job-1"]
    second = viewer_client.get(first["next"]).json()
    assert [row["job"] for row in second["results"]] == ["job-2", "job-3"]
    assert second["previous"] is not None


def test_an_out_of_range_page_is_a_json_404(viewer_client: APIClient) -> None:
    body = error_of(viewer_client.get("/api/test/job-runs?page=99"), 404)
    assert body["code"] == "not_found"


@pytest.mark.parametrize(
    ("details", "message"),
    [
        ({"name": ["This field is required."]}, "name: This field is required."),
        ({"non_field_errors": ["Dates are reversed."]}, "Dates are reversed."),
        (
            {"samples": [{}, {"value": ["A valid number is required."]}]},
            "samples.1.value: A valid number is required.",
        ),
        ({"labels": {"env": ["Too long."]}}, "labels.env: Too long."),
        ({}, "Invalid input."),
    ],
)
def test_the_validation_message_points_at_the_first_problem(
    details: dict[str, Any], message: str
) -> None:
    assert _validation_message(details) == message
