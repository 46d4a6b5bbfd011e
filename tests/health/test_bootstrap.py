"""Bootstrap seeds the platform, and a changed URL variable never overwrites an admin edit."""

from __future__ import annotations

from typing import Any

import pytest

from health.bootstrap import seed
from health.models import Service

pytestmark = pytest.mark.django_db


def run(settings: Any, **urls: str) -> list[str]:
    lines: list[str] = []
    settings.PLATFORM_SERVICE_URLS = {**settings.PLATFORM_SERVICE_URLS, **urls}
    seed(lines.append)
    return lines


def test_bootstrap_seeds_the_21_services_with_defaults_flags_and_dependencies(
    settings: Any,
) -> None:
    settings.REDIS_URL = ""
    run(settings, AUTH_SERVICE_URL="http://auth.internal:8080")
    platform = Service.objects.exclude(kind="monitor")
    assert platform.count() == 21
    assert Service.objects.get(slug="auth").target == "http://auth.internal:8080"
    assert Service.objects.get(slug="api-gateway").target == "http://api-gateway:3020"
    assert Service.objects.get(slug="blockchain-indexer").target == "http://blockchain-indexer:3019"
    assert Service.objects.get(slug="venue").target == "http://venue-service:3001"
    critical = set(platform.filter(critical=True).values_list("slug", flat=True))
    assert critical == {
        "auth",
        "event",
        "ticket",
        "payment",
        "order",
        "api-gateway",
        "blockchain",
        "minting",
    }
    deps = {s.slug: sorted(s.depends_on.values_list("slug", flat=True)) for s in platform}
    assert deps["marketplace"] == ["payment", "ticket"]
    assert deps["order"] == ["payment", "ticket"]
    assert deps["ticket"] == ["event"]
    assert deps["event"] == ["venue"]
    assert deps["scanning"] == ["ticket"]
    assert deps["notification"] == ["queue"]
    assert deps["api-gateway"] == []
    assert deps["minting"] == deps["transfer"] == deps["blockchain-indexer"] == ["blockchain"]
    assert set(Service.objects.filter(kind="monitor").values_list("slug", flat=True)) == {
        "monitor-database",
        "monitor-workers",
    }


def test_datastores_are_registered_when_their_variables_are_set(settings: Any) -> None:
    run(settings)
    assert not Service.objects.filter(slug="solana").exists()
    settings.PLATFORM_DATABASE_URL = "postgres://app:pw@platform-db:5432/app"
    settings.PLATFORM_REDIS_URL = "redis://platform-redis:6379/0"
    settings.SOLANA_RPC_URL = "https://rpc.solana.internal"
    run(settings)
    kinds = dict(
        Service.objects.filter(
            slug__in=["platform-postgres", "platform-redis", "solana"]
        ).values_list("slug", "kind")
    )
    assert kinds == {
        "platform-postgres": "postgres",
        "platform-redis": "redis",
        "solana": "solana_rpc",
    }
    blockchain = Service.objects.get(slug="blockchain")
    assert list(blockchain.depends_on.values_list("slug", flat=True)) == ["solana"]


def test_running_bootstrap_twice_changes_nothing(settings: Any) -> None:
    run(settings)
    before = list(Service.objects.values_list("slug", "target", "critical"))
    run(settings)
    assert list(Service.objects.values_list("slug", "target", "critical")) == before


def test_a_changed_variable_updates_a_target_nobody_edited(settings: Any) -> None:
    run(settings)
    lines = run(settings, AUTH_SERVICE_URL="http://auth-v2:3000")
    assert Service.objects.get(slug="auth").target == "http://auth-v2:3000"
    assert "health: auth target updated from AUTH_SERVICE_URL" in lines


def test_a_changed_variable_never_overwrites_an_admin_edit(settings: Any) -> None:
    run(settings)
    auth = Service.objects.get(slug="auth")
    auth.target, auth.critical = "http://auth.admin-chose:3000", False
    auth.depends_on.clear()
    auth.save()
    lines = run(settings, AUTH_SERVICE_URL="http://auth-v2:3000")
    auth.refresh_from_db()
    assert (auth.target, auth.critical) == ("http://auth.admin-chose:3000", False)
    assert any("auth keeps its edited target" in line for line in lines)


def test_removed_default_dependencies_stay_removed(settings: Any) -> None:
    run(settings)
    order = Service.objects.get(slug="order")
    order.depends_on.clear()
    run(settings)
    assert list(order.depends_on.all()) == []


# Issue #11, item 8: the monitor's own entry points at its own /status, from SITE_URL.


def test_the_monitors_own_entry_targets_its_status_page_at_site_url_by_default(
    settings: Any,
) -> None:
    settings.SITE_URL = "http://127.0.0.1:8123"
    run(settings, MONITORING_SERVICE_URL=None)  # type: ignore[arg-type]
    monitoring = Service.objects.get(slug="monitoring")
    assert (monitoring.target, monitoring.health_path) == ("http://127.0.0.1:8123", "/status")
    assert monitoring.kind == "http"


def test_monitoring_service_url_overrides_the_monitors_own_entry(settings: Any) -> None:
    run(settings, MONITORING_SERVICE_URL="http://monitoring.internal:3017")
    monitoring = Service.objects.get(slug="monitoring")
    assert (monitoring.target, monitoring.health_path) == (
        "http://monitoring.internal:3017",
        "/status",
    )


def test_an_entry_seeded_with_the_old_unresolvable_default_moves_to_site_url(
    settings: Any,
) -> None:
    Service.objects.create(
        slug="monitoring",
        name="Monitoring",
        target="http://monitoring-service:3017",
        health_path="/health",
    ).history.update(history_change_reason="bootstrap: seeded from MONITORING_SERVICE_URL")
    settings.SITE_URL = "http://localhost:3017"
    lines = run(settings, MONITORING_SERVICE_URL=None)  # type: ignore[arg-type]
    monitoring = Service.objects.get(slug="monitoring")
    assert (monitoring.target, monitoring.health_path) == ("http://localhost:3017", "/status")
    assert "health: monitoring target updated from SITE_URL" in lines


def test_an_edited_monitor_entry_is_left_alone(settings: Any) -> None:
    run(settings, MONITORING_SERVICE_URL=None)  # type: ignore[arg-type]
    monitoring = Service.objects.get(slug="monitoring")
    monitoring.target, monitoring.health_path = "http://monitor.lb:80", "/health"
    monitoring.save()
    settings.SITE_URL = "https://monitoring.example.com"
    run(settings, MONITORING_SERVICE_URL=None)  # type: ignore[arg-type]
    monitoring.refresh_from_db()
    assert (monitoring.target, monitoring.health_path) == ("http://monitor.lb:80", "/health")


@pytest.mark.django_db(transaction=True)
def test_a_round_finds_the_monitor_up_at_its_own_site(settings: Any, live_server: Any) -> None:
    from health.rounds import run_probes
    from health.services import build_targets

    settings.SITE_URL = live_server.url
    run(settings, MONITORING_SERVICE_URL=None)  # type: ignore[arg-type]
    monitoring = Service.objects.filter(slug="monitoring")
    [result] = run_probes(build_targets(monitoring), deadline=5).values()
    assert (result.outcome, result.status_code, result.error) == ("up", 200, "")
