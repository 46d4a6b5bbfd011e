"""The admin console for services, health figures on /metrics, and workers in /health."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from health.models import Service
from monitoring_site.models import JobRun
from tests.health.servers import PlatformServer

pytestmark = pytest.mark.django_db


@pytest.fixture
def superuser(db: Any) -> User:
    return User.objects.create_superuser("root", "root@example.com", "pw-for-tests-only")


def test_the_admin_lists_services_with_state_and_shows_their_edit_history(
    client: Client, superuser: User, make_service: Callable[..., Service]
) -> None:
    auth = make_service("auth", "http://auth:3000", critical=True)
    auth.target = "http://auth-v2:3000"
    auth.save()
    client.force_login(superuser)
    listing = client.get("/admin/health/service/")
    assert listing.status_code == 200
    assert b"auth" in listing.content and b"unknown" in listing.content
    history = client.get(f"/admin/health/service/{auth.pk}/history/")
    assert history.status_code == 200
    assert b"http://auth-v2:3000" in history.content  # the diff of the target edit
    assert b"2 entries" in history.content
    for page in ("checkresult", "statechange", "uptimehour"):
        assert client.get(f"/admin/health/{page}/").status_code == 200


def test_the_admin_action_runs_a_round(
    client: Client, superuser: User, make_service: Callable[..., Service], platform: PlatformServer
) -> None:
    api = make_service("api", platform.url("/admin/api", "ok"), success_threshold=1)
    client.force_login(superuser)
    response = client.post(
        "/admin/health/service/",
        {"action": "run_round_now", "_selected_action": [api.pk]},
        follow=True,
    )
    assert response.status_code == 200
    assert b"Round done" in response.content
    assert Service.objects.get(pk=api.pk).state == "up"


def test_metrics_show_each_service_up_its_latency_and_the_overall_status(
    client: Client, make_service: Callable[..., Service]
) -> None:
    auth = make_service("auth", critical=True)
    search = make_service("search")
    Service.objects.filter(pk=auth.pk).update(
        state="up", last_latency_ms=25.0, last_checked_at=timezone.now()
    )
    Service.objects.filter(pk=search.pk).update(state="down", last_checked_at=timezone.now())
    body = client.get("/metrics", REMOTE_ADDR="127.0.0.1").content.decode()
    assert 'monitoring_service_up{critical="true",service="auth"} 1.0' in body
    assert 'monitoring_service_up{critical="false",service="search"} 0.0' in body
    assert 'monitoring_service_latency_seconds{service="auth"} 0.025' in body
    assert 'monitoring_service_state{service="search",state="down"} 1.0' in body
    assert "monitoring_health_status 1.0" in body


def test_health_reports_workers_from_the_job_runs_as_of_now(client: Client, db: Any) -> None:
    assert client.get("/health").json()["dependencies"]["workers"]["status"] == "down"
    JobRun.objects.create(job="health.round", started_at=timezone.now() - timedelta(seconds=30))
    workers = client.get("/health").json()["dependencies"]["workers"]
    assert workers["status"] == "up"
    JobRun.objects.update(started_at=timezone.now() - timedelta(minutes=3))
    assert client.get("/health").json()["dependencies"]["workers"]["status"] == "down"
