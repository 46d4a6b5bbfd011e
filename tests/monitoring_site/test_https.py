"""HTTPS on: redirects for people, plain HTTP for in-cluster callers, HSTS and secure cookies."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture
def https_on(settings: Any) -> Any:
    """The values settings.py derives from HTTPS=true (checked in test_settings)."""
    settings.SECURE_SSL_REDIRECT = True
    settings.SESSION_COOKIE_SECURE = True
    settings.CSRF_COOKIE_SECURE = True
    settings.SECURE_HSTS_SECONDS = 31_536_000
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    settings.SECURE_HSTS_PRELOAD = True
    return settings


@pytest.mark.parametrize("path", ["/api/docs/", "/admin/login/", "/api/auth/token"])
def test_plain_http_is_redirected_to_https(https_on: Any, path: str) -> None:
    response = Client().get(path)
    assert response.status_code == 301
    assert response["Location"] == f"https://testserver{path}"


@pytest.mark.parametrize(
    "path",
    ["/status", "/status/", "/health", "/health/", "/metrics", "/api/v1/metrics/ingest"],
)
def test_probe_prometheus_and_ingest_paths_are_not_redirected(https_on: Any, path: str) -> None:
    response = Client().get(path)
    assert response.status_code != 301
    assert "Location" not in response


def test_only_the_exact_exempt_paths_skip_the_redirect(https_on: Any) -> None:
    response = Client().get("/status-page-that-is-not-status")
    assert response.status_code == 301


def test_https_responses_carry_hsts(https_on: Any) -> None:
    response = Client().get("/status", secure=True)
    assert response.status_code == 200
    assert response["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"


def test_session_and_csrf_cookies_are_secure_over_https(https_on: Any, operator: User) -> None:
    client = Client(enforce_csrf_checks=False)
    login_page = client.get("/admin/login/", secure=True)
    assert login_page.cookies["csrftoken"]["secure"] is True
    response = client.post(
        "/admin/login/?next=/admin/",
        {"username": operator.username, "password": PASSWORD},
        secure=True,
    )
    assert response.status_code == 302
    assert response.cookies["sessionid"]["secure"] is True
    assert response.cookies["sessionid"]["httponly"] is True


def test_forwarded_proto_is_ignored_without_trusted_proxies(https_on: Any) -> None:
    https_on.SECURE_PROXY_SSL_HEADER = None
    response = Client().get("/api/docs/", HTTP_X_FORWARDED_PROTO="https")
    assert response.status_code == 301


def test_forwarded_proto_is_honoured_behind_a_trusted_proxy(https_on: Any) -> None:
    https_on.TRUSTED_PROXIES = 1
    https_on.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    response = Client().get("/status", HTTP_X_FORWARDED_PROTO="https")
    assert response.status_code == 200
    assert "Strict-Transport-Security" in response
    assert Client().get("/api/docs/", HTTP_X_FORWARDED_PROTO="https").status_code == 200
