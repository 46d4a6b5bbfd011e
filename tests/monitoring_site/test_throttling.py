"""Throttles key on the real client: X-Forwarded-For counts only as far as TRUSTED_PROXIES says."""

from __future__ import annotations

import itertools
from typing import Any, TypedDict

import pytest
from django.contrib.auth.models import User
from django.test import RequestFactory
from rest_framework.test import APIClient

from monitoring_site.api.throttling import LoginThrottle
from monitoring_site.net import client_ip

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.monitoring_site.urls_testing")]

# DRF sets num_requests in SimpleRateThrottle.__init__; its stubs do not declare it.
LOGIN_LIMIT = LoginThrottle().num_requests  # type: ignore[attr-defined]
_ATTEMPTS = itertools.count()


class _Environ(TypedDict, total=False):
    REMOTE_ADDR: str
    HTTP_X_FORWARDED_FOR: str


def attempt_login(client: APIClient, remote: str, forwarded: str | None = None) -> int:
    """A wrong password for a new username each time: the throttle, not the lockout, answers."""
    headers: _Environ = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        headers["HTTP_X_FORWARDED_FOR"] = forwarded
    username = f"mallory-{next(_ATTEMPTS)}"
    response = client.post(
        "/api/auth/token/", {"username": username, "password": "guess"}, format="json", **headers
    )
    return response.status_code


def test_login_attempts_are_limited_per_client_address(api_client: APIClient) -> None:
    statuses = [attempt_login(api_client, "203.0.113.5") for _ in range(LOGIN_LIMIT + 1)]
    assert statuses == [401] * LOGIN_LIMIT + [429]
    # Another address has its own allowance.
    assert attempt_login(api_client, "203.0.113.6") == 401


def test_a_spoofed_forwarded_for_from_an_untrusted_client_does_not_change_the_key(
    api_client: APIClient, settings: Any
) -> None:
    settings.TRUSTED_PROXIES = 0
    statuses = [
        attempt_login(api_client, "203.0.113.5", forwarded=f"198.51.100.{i}")
        for i in range(LOGIN_LIMIT + 1)
    ]
    assert statuses[-1] == 429


def test_behind_one_trusted_proxy_the_forwarded_client_is_the_key(
    api_client: APIClient, settings: Any
) -> None:
    settings.TRUSTED_PROXIES = 1
    proxy = "10.0.0.2"
    # Many real clients behind the same proxy each get their own allowance...
    statuses = [
        attempt_login(api_client, proxy, forwarded=f"198.51.100.{i}")
        for i in range(LOGIN_LIMIT + 1)
    ]
    assert 429 not in statuses
    # ...and one client is limited, whatever it writes in front of the proxy's entry.
    statuses = [
        attempt_login(api_client, proxy, forwarded=f"192.0.2.{i}, 198.51.100.77")
        for i in range(LOGIN_LIMIT + 1)
    ]
    assert statuses[-1] == 429


def test_anonymous_api_throttle_is_per_address(api_client: APIClient) -> None:
    url = "/api/test/throttled"
    assert [api_client.get(url, REMOTE_ADDR="203.0.113.9").status_code for _ in range(4)] == [
        200,
        200,
        200,
        429,
    ]
    assert api_client.get(url, REMOTE_ADDR="203.0.113.10").status_code == 200


def test_an_authenticated_user_is_throttled_as_a_user_from_any_address(
    client_for: Any, viewer: User
) -> None:
    client = client_for(viewer)
    addresses = ["203.0.113.1", "203.0.113.2", "203.0.113.3", "203.0.113.4"]
    statuses = [
        client.get("/api/test/throttled", REMOTE_ADDR=address).status_code for address in addresses
    ]
    assert statuses == [200, 200, 200, 429]


def test_status_is_never_throttled(api_client: APIClient) -> None:
    statuses = {api_client.get("/status").status_code for _ in range(80)}
    assert statuses == {200}


@pytest.mark.parametrize("path", ["/health", "/metrics"])
def test_probe_and_scrape_paths_are_never_throttled(api_client: APIClient, path: str) -> None:
    # More requests than the anonymous rate (60/min) allows, from one address.
    statuses = [api_client.get(path, REMOTE_ADDR="127.0.0.1").status_code for _ in range(70)]
    assert 429 not in statuses
    assert statuses[-1] == statuses[0]


@pytest.mark.parametrize(
    ("hops", "forwarded", "expected"),
    [
        (0, "198.51.100.1", "203.0.113.5"),
        (1, "", "203.0.113.5"),
        (1, "198.51.100.1", "198.51.100.1"),
        (1, "6.6.6.6, 198.51.100.1", "198.51.100.1"),
        (2, "6.6.6.6, 198.51.100.1, 10.0.0.1", "198.51.100.1"),
        (2, "198.51.100.1", "198.51.100.1"),
        (1, " , ", "203.0.113.5"),
    ],
)
def test_client_ip_counts_trusted_hops_from_the_right(
    settings: Any, hops: int, forwarded: str, expected: str
) -> None:
    settings.TRUSTED_PROXIES = hops
    request = RequestFactory().get("/", REMOTE_ADDR="203.0.113.5", HTTP_X_FORWARDED_FOR=forwarded)
    assert client_ip(request) == expected
