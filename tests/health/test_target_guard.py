"""Health targets: link-local and metadata addresses are refused on save and at connect time;
private networks and loopback stay allowed (the platform, and its simulation on 127.0.0.1)."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from rest_framework.test import APIClient

from health.bootstrap import seed
from health.models import Service
from health.probes import ProbeResult, ProbeTarget
from health.probes.guard import GuardedNetworkBackend, guarded_transport
from health.rounds import run_probes
from tests.health.servers import PlatformServer

SERVICES = "/api/v1/monitoring/services"

REFUSED_TARGETS = [
    ("http", "http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a cloud metadata"),
    ("http", "http://[fd00:ec2::254]/", "fd00:ec2::254 is a cloud metadata"),
    ("http", "http://169.254.10.1:8080", "169.254.10.1 is a link-local"),
    ("http", "http://[::ffff:169.254.169.254]/", "::ffff:169.254.169.254 is a cloud metadata"),
    ("http", "http://0.0.0.0:3000", "0.0.0.0 is not a unicast"),
    ("solana_rpc", "http://100.100.100.200/", "100.100.100.200 is a cloud metadata"),
    ("tcp", "169.254.169.254:80", "169.254.169.254 is a cloud metadata"),
    ("redis", "redis://[fe80::1]:6379/0", "fe80::1 is a link-local"),
    (
        "postgres",
        "postgres://app@db.internal:5432/app?hostaddr=169.254.169.254",
        "169.254.169.254 is a cloud metadata",
    ),
]
ALLOWED_TARGETS = [
    ("http", "http://127.0.0.1:3000"),
    ("http", "http://10.20.0.5:3000"),
    ("http", "http://[::1]:3000"),
    ("http", "http://payment-service:3004"),
    ("tcp", "192.168.1.20:5432"),
    ("postgres", "postgres://app@10.0.0.4:5432/app"),
    ("redis", "redis://172.16.0.9:6379/0"),
]


def probe(kind: str, target: str) -> ProbeResult:
    one = ProbeTarget(service_id=1, slug="svc", kind=kind, target=target, health_path="")
    return run_probes([one], deadline=3.0)[1]


@pytest.mark.django_db
@pytest.mark.parametrize(("kind", "target", "reason"), REFUSED_TARGETS)
def test_the_api_refuses_a_metadata_or_link_local_target(
    admin_client_api: APIClient, kind: str, target: str, reason: str
) -> None:
    response = admin_client_api.post(
        SERVICES, {"slug": "svc", "name": "Svc", "kind": kind, "target": target}, format="json"
    )

    assert response.status_code == 400
    [message] = response.json()["details"]["target"]
    assert message.startswith(f"Invalid target: {reason}")
    assert message.endswith("which health targets may not reach.")
    assert not Service.objects.filter(slug="svc").exists()


@pytest.mark.django_db
@pytest.mark.parametrize(("kind", "target"), ALLOWED_TARGETS)
def test_the_api_accepts_private_loopback_and_named_targets(
    admin_client_api: APIClient, kind: str, target: str
) -> None:
    response = admin_client_api.post(
        SERVICES, {"slug": "svc", "name": "Svc", "kind": kind, "target": target}, format="json"
    )

    assert response.status_code == 201, response.json()
    assert Service.objects.get(slug="svc").target == target


@pytest.mark.django_db
def test_the_api_refuses_to_move_an_existing_target_to_the_metadata_service(
    admin_client_api: APIClient, make_service: Callable[..., Service]
) -> None:
    service = make_service("auth", "http://auth-service:3000")

    response = admin_client_api.patch(
        f"{SERVICES}/{service.pk}", {"target": "http://169.254.169.254/"}, format="json"
    )

    assert response.status_code == 400
    service.refresh_from_db()
    assert service.target == "http://auth-service:3000"


@pytest.mark.django_db
def test_the_admin_form_refuses_a_metadata_target(client: Client) -> None:
    client.force_login(User.objects.create_superuser("root", "", "pw-for-tests-only"))
    form = {
        "slug": "meta",
        "name": "Meta",
        "kind": "http",
        "target": "http://169.254.169.254/latest/meta-data/",
        "health_path": "/health",
        "timeout": "3",
        "expected_status": "200",
        "failure_threshold": "3",
        "success_threshold": "2",
        "tags": "[]",
        "enabled": "on",
    }

    response = client.post("/admin/health/service/add/", form)

    assert response.status_code == 200  # the form again, with the error
    errors = response.context["adminform"].form.errors
    assert errors["target"] == [
        "Invalid target: 169.254.169.254 is a cloud metadata address, "
        "which health targets may not reach."
    ]
    assert not Service.objects.filter(slug="meta").exists()

    form["target"] = "http://127.0.0.1:3000"
    assert client.post("/admin/health/service/add/", form).status_code == 302
    assert Service.objects.get(slug="meta").target == "http://127.0.0.1:3000"


@pytest.mark.django_db
def test_bootstrap_does_not_seed_a_service_whose_url_points_at_the_metadata_service(
    settings: Any,
) -> None:
    settings.PLATFORM_SERVICE_URLS = {
        **settings.PLATFORM_SERVICE_URLS,
        "AUTH_SERVICE_URL": "http://169.254.169.254/latest",
        "VENUE_SERVICE_URL": "http://127.0.0.1:3001",
    }
    lines: list[str] = []

    seed(lines.append)

    assert not Service.objects.filter(slug="auth").exists()
    assert Service.objects.get(slug="venue").target == "http://127.0.0.1:3001"
    assert (
        "health: auth not seeded: AUTH_SERVICE_URL: 169.254.169.254 is a cloud metadata "
        "address, which health targets may not reach"
    ) in lines


def test_a_redirect_to_the_metadata_service_is_refused_when_the_probe_follows_it(
    platform: PlatformServer,
) -> None:
    started = time.monotonic()

    result = probe("http", platform.url("/guard/redirect", "redirect_metadata"))

    assert (result.outcome, result.error) == (
        "down",
        "refused to connect to 169.254.169.254 (169.254.169.254): a cloud metadata address",
    )
    assert time.monotonic() - started < 1.0  # refused before any connect attempt


def test_the_local_simulation_on_loopback_is_still_probed(platform: PlatformServer) -> None:
    assert probe("http", platform.url("/guard/ok", "ok")).outcome == "up"


@pytest.fixture
def rebinding_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    """``rebound.example`` resolves to the metadata service when the probe runs.

    The one seam mocked: making a real name resolve to 169.254.169.254 needs a DNS server we do
    not run. The event loop's resolver calls ``socket.getaddrinfo``, which is what is replaced.
    """
    real = socket.getaddrinfo

    def resolve(host: Any, port: Any, *args: Any, **kwargs: Any) -> list[tuple[Any, ...]]:
        if host == "rebound.example":
            port_number = int(port or 0)
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("169.254.169.254", port_number))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)


@pytest.mark.usefixtures("rebinding_dns")
@pytest.mark.parametrize(
    ("kind", "target"),
    [
        ("http", "http://rebound.example:8080/health"),
        ("http", "https://rebound.example/health"),
        ("solana_rpc", "http://rebound.example:8899"),
        ("tcp", "rebound.example:5432"),
        ("postgres", "postgres://app:pw@rebound.example:5432/app"),
        ("redis", "redis://rebound.example:6379/0"),
        ("redis", "rediss://rebound.example:6380/0"),
    ],
)
def test_a_name_resolving_to_the_metadata_service_at_probe_time_is_refused(
    kind: str, target: str
) -> None:
    started = time.monotonic()

    result = probe(kind, target)

    assert result.outcome == "down"
    assert "refused to connect to rebound.example (169.254.169.254): a cloud metadata address" in (
        result.error
    )
    assert time.monotonic() - started < 1.0  # no connect attempt, so no connect timeout


def test_the_guarded_transport_really_carries_the_guard() -> None:
    """The backend is swapped into a private attribute of httpx: an upgrade that moves it fails
    here rather than silently dropping the guard."""
    transport = guarded_transport()
    assert isinstance(transport._pool._network_backend, GuardedNetworkBackend)
