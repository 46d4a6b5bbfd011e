"""The foundation's own endpoints: /api/auth/me and the job history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from rest_framework.test import APIClient

from monitoring_site.models import JobRun

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("who", "role"), [("viewer", "viewer"), ("operator", "operator"), ("admin", "admin")]
)
def test_me_tells_a_caller_their_role(request: Any, client_for: Any, who: str, role: str) -> None:
    user: User = request.getfixturevalue(who)
    response = client_for(user).get("/api/auth/me")
    assert response.status_code == 200
    assert response.json() == {"username": user.username, "role": role, "is_superuser": False}


def test_me_for_a_superuser_says_admin(client_for: Any, superuser: User) -> None:
    body = client_for(superuser).get("/api/auth/me/").json()
    assert body == {"username": "sam-super", "role": "admin", "is_superuser": True}


def test_me_refuses_a_user_in_no_group(client_for: Any, nobody: User) -> None:
    assert client_for(nobody).get("/api/auth/me").status_code == 403


@pytest.fixture
def runs() -> list[JobRun]:
    return [
        JobRun.objects.create(job="cleanup", started_at=T0, outcome="success", result="{}"),
        JobRun.objects.create(
            job="health.round", started_at=T0 + timedelta(minutes=1), outcome="failure", error="x"
        ),
        JobRun.objects.create(job="cleanup", started_at=T0 + timedelta(days=1), outcome="running"),
    ]


def test_job_history_lists_runs_newest_first(viewer_client: APIClient, runs: list[JobRun]) -> None:
    body = viewer_client.get("/api/v1/monitoring/jobs/runs").json()
    assert body["count"] == 3
    assert [row["id"] for row in body["results"]] == [runs[2].id, runs[1].id, runs[0].id]
    assert set(body["results"][0]) == {
        "id",
        "job",
        "started_at",
        "finished_at",
        "duration_ms",
        "outcome",
        "error",
        "result",
        "host",
        "pid",
    }


def test_job_history_filters_by_job_and_outcome(
    viewer_client: APIClient, runs: list[JobRun]
) -> None:
    by_job = viewer_client.get("/api/v1/monitoring/jobs/runs?job=cleanup").json()
    assert [row["id"] for row in by_job["results"]] == [runs[2].id, runs[0].id]
    failures = viewer_client.get("/api/v1/monitoring/jobs/runs/?outcome=failure").json()
    assert [row["job"] for row in failures["results"]] == ["health.round"]


def test_an_unknown_outcome_filter_is_a_400_naming_the_field(viewer_client: APIClient) -> None:
    response = viewer_client.get("/api/v1/monitoring/jobs/runs?outcome=exploded")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert set(body["details"]) == {"outcome"}


def test_one_job_run_by_id(viewer_client: APIClient, runs: list[JobRun]) -> None:
    body = viewer_client.get(f"/api/v1/monitoring/jobs/runs/{runs[1].id}").json()
    assert (body["job"], body["outcome"], body["error"]) == ("health.round", "failure", "x")
    assert viewer_client.get("/api/v1/monitoring/jobs/runs/999999").status_code == 404


def test_job_history_needs_a_role(api_client: APIClient, client_for: Any, nobody: User) -> None:
    assert api_client.get("/api/v1/monitoring/jobs/runs").status_code == 401
    assert client_for(nobody).get("/api/v1/monitoring/jobs/runs").status_code == 403


def test_the_browsable_api_works_with_the_admin_session(viewer: User) -> None:
    client = Client()
    client.force_login(viewer)
    response = client.get("/api/v1/monitoring/jobs/runs", HTTP_ACCEPT="text/html")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert b"Job Run List" in response.content
