"""The dashboard: who may see it, and what it shows in a real (headless) Chromium."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.test import Client
from django.utils import timezone
from playwright.sync_api import expect
from rest_framework_simplejwt.tokens import RefreshToken

from alerts.models import Rule
from health.models import CheckResult, Service
from health.platform import PLATFORM_SERVICES
from health.services import rollup_hours, run_round
from monitoring_site.models import JobRun
from monitoring_site.roles import Role
from tests.conftest import PASSWORD
from tests.health.servers import PlatformServer
from tests.support.browser import chromium_browser

ARTIFACTS = Path(django_settings.BASE_DIR) / "test-artifacts"


@pytest.mark.django_db
def test_the_dashboard_sends_anonymous_visitors_to_the_login(client: Client) -> None:
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == "/dashboard/login?next=/"
    assert client.get("/dashboard/data").status_code == 401


@pytest.mark.django_db
def test_a_viewer_signs_in_on_the_dashboard_login_and_lands_on_the_dashboard(
    client: Client, make_user: Callable[..., Any]
) -> None:
    make_user("wall", Role.VIEWER)
    page = client.get("/dashboard/login?next=/")
    assert page.status_code == 200
    response = client.post(
        "/dashboard/login",
        {"username": "wall", "password": PASSWORD, "next": "/"},
    )
    assert (response.status_code, response["Location"]) == (302, "/")
    assert client.get("/").status_code == 200
    client.post("/dashboard/logout")
    assert client.get("/").status_code == 302


@pytest.mark.django_db
def test_an_account_without_a_role_cannot_sign_in_to_the_dashboard(
    client: Client, make_user: Callable[..., Any]
) -> None:
    make_user("stranger")
    response = client.post("/dashboard/login", {"username": "stranger", "password": PASSWORD})
    assert response.status_code == 200
    assert b"This account has no role that may see the dashboard." in response.content
    assert client.get("/").status_code == 302


@pytest.mark.django_db
def test_the_dashboard_needs_the_viewer_role(client: Client, nobody: Any, viewer: Any) -> None:
    client.force_login(nobody)
    assert client.get("/").status_code == 403
    assert client.get("/dashboard/data").json()["code"] == "permission_denied"
    client.force_login(viewer)
    page = client.get("/")
    assert page.status_code == 200
    assert b"health/dashboard.js" in page.content


@pytest.mark.django_db
def test_dashboard_public_opens_it_read_only(
    client: Client, settings: Any, make_service: Callable[..., Service]
) -> None:
    settings.DASHBOARD_PUBLIC = True
    make_service("auth", critical=True)
    assert client.get("/").status_code == 200
    data = client.get("/dashboard/data").json()
    assert [(s["slug"], s["state"], s["critical"]) for s in data["services"]] == [
        ("auth", "unknown", True)
    ]
    assert len(data["services"][0]["heartbeat"]) == 24
    assert client.post("/api/v1/monitoring/health/check").status_code == 401


@pytest.mark.django_db
def test_the_latency_feed_lists_the_last_day_of_checks(
    client: Client, viewer: Any, make_service: Callable[..., Service], platform: PlatformServer
) -> None:
    api = make_service("api", platform.url("/dash/api", "ok"))
    run_round(deadline=2)
    client.force_login(viewer)
    body = client.get(f"/dashboard/services/{api.pk}/latency").json()
    assert body["service"] == "api"
    assert [p["outcome"] for p in body["points"]] == ["up"]


def _seed_platform(platform: PlatformServer) -> dict[str, Service]:
    """The 21 platform services on the fake platform, with a day of history behind them."""
    behaviours = {"search": "degraded", "analytics": "fail", "file": "slow"}
    services: dict[str, Service] = {}
    for spec in PLATFORM_SERVICES:
        path = f"/platform/{spec.slug}"
        services[spec.slug] = Service.objects.create(
            slug=spec.slug,
            name=spec.name,
            target=platform.url(path, behaviours.get(spec.slug, "ok")),
            health_path="",
            critical=spec.critical,
            failure_threshold=1,
            success_threshold=1,
        )
    for spec in PLATFORM_SERVICES:
        deps = [services[d] for d in spec.depends_on if d in services]
        services[spec.slug].depends_on.set(deps)
    _history(list(services.values()))
    return services


def _history(services: list[Service]) -> None:
    rng = random.Random(7)
    now = timezone.now()
    rows = []
    for step in range(24 * 4):
        at = now - timedelta(minutes=15 * (step + 1))
        for service in services:
            roll = rng.random()
            outcome = "down" if roll < 0.01 else "degraded" if roll < 0.03 else "up"
            if service.slug == "analytics" and step < 3:
                outcome = "down"
            latency = None if outcome == "down" else round(rng.uniform(4, 40), 2)
            rows.append(
                CheckResult(service=service, checked_at=at, outcome=outcome, latency_ms=latency)
            )
    CheckResult.objects.bulk_create(rows)
    rollup_hours(start=now - timedelta(hours=25))


@pytest.mark.browser
@pytest.mark.slow
def test_the_dashboard_lists_services_and_shows_a_change_without_reloading(
    live_server: Any,
    make_user: Callable[..., Any],
    settings: Any,
    platform: PlatformServer,
) -> None:
    settings.HEALTH_DASHBOARD_REFRESH_SECONDS = 2
    _seed_platform(platform)
    run_round(deadline=3)
    client = Client()
    client.force_login(make_user("wall-screen", Role.VIEWER))
    session = client.cookies[django_settings.SESSION_COOKIE_NAME].value
    operator_token = str(RefreshToken.for_user(make_user("oncall", Role.OPERATOR)).access_token)
    with chromium_browser() as browser:
        _drive_dashboard(browser, live_server.url, session, operator_token, platform)


def _drive_dashboard(
    browser: Any, base: str, session: str, operator_token: str, platform: PlatformServer
) -> None:
    context = browser.new_context(viewport={"width": 1440, "height": 1100})
    context.add_cookies(
        [{"name": django_settings.SESSION_COOKIE_NAME, "value": session, "url": base}]
    )
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.goto(base + "/")
    page.wait_for_selector("#dashboard[data-loaded='true']")

    assert page.locator("li.tile").count() == 21
    payment = page.locator("li.tile[data-slug='payment']")
    assert payment.locator(".state-word").inner_text() == "Up"
    assert page.locator("li.tile[data-slug='search'] .state-word").inner_text() == "Degraded"
    assert page.locator("li.tile[data-slug='analytics'] .state-word").inner_text() == "Down"
    assert page.locator("li.tile[data-slug='payment'] .beat").count() == 24
    assert page.locator("#banner-text").inner_text() == "Degraded"
    page.evaluate("window.__notReloaded = true")

    platform.behaviours["/platform/payment"] = "fail"
    # The next round, run by the server (an operator's round-now), not by this thread.
    answer = context.request.post(
        base + "/api/v1/monitoring/health/check",
        headers={"Authorization": f"Bearer {operator_token}"},
    )
    assert answer.status == 200
    page.wait_for_selector("li.tile[data-slug='payment'][data-state='down']", timeout=10_000)
    assert page.evaluate("window.__notReloaded") is True
    assert payment.locator(".state-word").inner_text() == "Down"
    assert page.locator("#banner-text").inner_text() == "Major outage"
    order = page.locator("li.tile[data-slug='order']")
    assert "Depends on payment, ticket" in order.inner_text()

    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "health-dashboard.png"), full_page=True)

    page.locator("li.tile[data-slug='file'] button").click()
    page.wait_for_selector("#chart svg path.line")
    assert page.locator("#chart-title").inner_text() == "File: latency, last 24 hours"
    assert "checks · p50" in page.locator("#chart-summary").inner_text()
    page.screenshot(path=str(ARTIFACTS / "health-dashboard-chart.png"))
    page.keyboard.press("Escape")

    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=str(ARTIFACTS / "health-dashboard-phone.png"), full_page=False)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390  # nothing overflows sideways on a phone
    assert problems == []
    context.close()


# Issue #11, item 7: before the first round the banner says "checking", and a service whose state
# is still unknown is never counted as up.


@pytest.mark.django_db
def test_before_the_first_round_the_dashboard_data_says_checking_and_counts_nobody_up(
    client: Client, viewer: Any, make_service: Callable[..., Service]
) -> None:
    for slug in ("auth", "payment", "search"):
        make_service(slug, critical=slug != "search")
    client.force_login(viewer)
    data = client.get("/dashboard/data").json()
    assert (data["checking"], data["checked_at"]) == (True, None)
    assert data["counts"] == {"up": 0, "degraded": 0, "down": 0, "unknown": 3}


@pytest.mark.django_db
def test_after_a_round_unsettled_services_are_still_checking_and_not_counted_up(
    client: Client, viewer: Any, make_service: Callable[..., Service]
) -> None:
    auth = make_service("auth", critical=True)
    search = make_service("search")
    now = timezone.now()
    Service.objects.update(last_checked_at=now)  # one round ran; thresholds not reached yet
    Service.objects.filter(pk=auth.pk).update(state="up", state_since=now)
    client.force_login(viewer)
    data = client.get("/dashboard/data").json()
    assert (data["checking"], data["status"]) == (True, "degraded")
    assert data["counts"] == {"up": 1, "degraded": 0, "down": 0, "unknown": 1}
    Service.objects.filter(pk=search.pk).update(state="up", state_since=now)
    assert client.get("/dashboard/data").json()["checking"] is False


@pytest.mark.django_db
def test_a_service_found_down_ends_checking_even_while_others_are_unsettled(
    client: Client, viewer: Any, make_service: Callable[..., Service]
) -> None:
    auth = make_service("auth", critical=True)
    make_service("search")
    now = timezone.now()
    Service.objects.update(last_checked_at=now)
    Service.objects.filter(pk=auth.pk).update(state="down", state_since=now)
    client.force_login(viewer)
    data = client.get("/dashboard/data").json()
    assert (data["checking"], data["status"]) == (False, "unhealthy")
    assert data["counts"] == {"up": 0, "degraded": 0, "down": 1, "unknown": 1}


@pytest.mark.browser
@pytest.mark.slow
def test_a_fresh_dashboard_says_checking_until_the_first_round_then_shows_what_it_found(
    live_server: Any, make_user: Callable[..., Any], settings: Any, platform: PlatformServer
) -> None:
    settings.HEALTH_DASHBOARD_REFRESH_SECONDS = 2
    for spec in PLATFORM_SERVICES:
        Service.objects.create(
            slug=spec.slug,
            name=spec.name,
            target=platform.url(f"/fresh/{spec.slug}", "ok"),
            health_path="",
            critical=spec.critical,
            success_threshold=1,
        )
    JobRun.objects.create(job="health.round", started_at=timezone.now())  # workers are alive
    Rule.objects.create(name="Queue Backup", expression="max(queue_size)", channels=["slack"])
    client = Client()
    client.force_login(make_user("wall-screen", Role.VIEWER))
    session = client.cookies[django_settings.SESSION_COOKIE_NAME].value
    operator_token = str(RefreshToken.for_user(make_user("oncall", Role.OPERATOR)).access_token)
    with chromium_browser() as browser:
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        cookie = {"name": django_settings.SESSION_COOKIE_NAME, "value": session}
        context.add_cookies([{**cookie, "url": live_server.url}])
        page = context.new_page()
        page.goto(live_server.url + "/")
        page.wait_for_selector("#dashboard[data-loaded='true']")
        banner = page.locator("#banner-text").inner_text()
        detail = page.locator("#banner-detail").inner_text()
        count = page.locator("#service-count").text_content()  # shown in capitals by CSS
        banner_class = page.locator("#banner").get_attribute("class")
        first_tile = page.locator("li.tile[data-slug='auth'] .state-word").inner_text()
        notice = page.locator("#notices .notice[data-code='unrouted']").inner_text()
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "health-dashboard-checking.png"))
        answer = context.request.post(
            live_server.url + "/api/v1/monitoring/health/check",
            headers={"Authorization": f"Bearer {operator_token}"},
        )
        assert answer.status == 200
        # A locator expectation polls without evaluating a string, which the CSP forbids.
        expect(page.locator("#banner-text")).to_have_text("All systems operational", timeout=10_000)
        after = (
            page.locator("#banner-detail").inner_text(),
            page.locator("#service-count").text_content(),
        )
        context.close()
    assert (banner, banner_class) == ("Checking…", "banner state-checking")
    assert detail == "Waiting for the first health round: 21 services not checked yet"
    assert count == "(21 · all checking)"
    assert "up" not in detail.lower().split()
    assert first_tile == "Checking…"
    assert "1 enabled rule routes to no working channel: Queue Backup" in notice
    assert "SLACK_WEBHOOK_URL" in notice
    assert after == ("21 services up", "(21)")
