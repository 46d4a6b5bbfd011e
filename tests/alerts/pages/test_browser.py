"""The alert pages and the wall screen in headless Chromium (issue #21, item 4).

Screenshots are saved to ``test-artifacts/`` at the project root (CI keeps the directory).
Each test does its database work before the browser starts: Playwright's sync API runs an event
loop in this thread, where Django refuses the ORM; afterwards changes go through the server (the
API, a health round run by the server), as they would in production.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.test import Client
from django.utils import timezone
from playwright.sync_api import Page, expect
from rest_framework_simplejwt.tokens import RefreshToken

from alerts.bootstrap import seed
from alerts.engine.lifecycle import apply_evaluation
from alerts.models import Alert, Rule
from alerts.services import acknowledge_alert
from health.models import Service
from health.platform import PLATFORM_SERVICES
from monitoring_site.roles import Role
from tests.alerts.conftest import vector
from tests.conftest import PASSWORD
from tests.health.servers import PlatformServer
from tests.support.browser import chromium_browser
from tests.support.live_server import RestartableLiveServer

ARTIFACTS = Path(django_settings.BASE_DIR) / "test-artifacts"
WALL_SIZES = [(1920, 1080), (1280, 720)]

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def platform() -> Iterator[PlatformServer]:
    server = PlatformServer().start()
    yield server
    server.stop()


@pytest.fixture
def fast_pages(settings: Any) -> None:
    settings.HEALTH_DASHBOARD_REFRESH_SECONDS = 2


def watch(page: Page) -> list[str]:
    """Console errors and uncaught exceptions (a CSP violation is a console error)."""
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    return problems


def shot(page: Page, name: str, *, full_page: bool = True) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=full_page)


def session_cookie(user: Any, base: str) -> dict[str, str]:
    client = Client()
    client.force_login(user)
    value = client.cookies[django_settings.SESSION_COOKIE_NAME].value
    return {"name": django_settings.SESSION_COOKIE_NAME, "value": value, "url": base}


def test_an_operator_logs_in_sees_an_alert_appear_acknowledges_it_and_sees_its_timeline(
    live_server: Any,
    make_user: Callable[..., Any],
    fast_pages: None,
    platform: PlatformServer,
    a_channel: Any,
) -> None:
    seed(lambda line: None)  # the built-in service_down rule, among the defaults
    Service.objects.create(
        slug="payment",
        name="Payment",
        target=platform.url("/payment", "ok"),
        health_path="",
        critical=True,
        failure_threshold=1,
        success_threshold=1,
        state="up",
    )
    make_user("oncall", Role.OPERATOR)
    token = str(RefreshToken.for_user(make_user("robot", Role.OPERATOR)).access_token)
    bearer = {"Authorization": f"Bearer {token}"}
    base = live_server.url
    with chromium_browser() as browser:
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        problems = watch(page)
        page.goto(base + "/alerts/")
        expect(page).to_have_url(base + "/dashboard/login?next=/alerts/")
        page.fill("input[name=username]", "oncall")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        expect(page).to_have_url(base + "/alerts/")
        expect(page.locator("#no-active")).to_have_text("No active alert.")
        page.evaluate("window.__notReloaded = true")

        # Payment fails; the server runs a round (an operator's "round now"): service_down fires.
        platform.behaviours["/payment"] = "fail"
        assert context.request.post(base + "/api/v1/monitoring/health/check", headers=bearer).ok
        row = page.locator("#active-alerts tbody tr").first
        expect(row).to_have_attribute("data-state", "firing", timeout=15_000)
        assert page.evaluate("window.__notReloaded") is True  # it came without a reload
        expect(row).to_contain_text("Service Down")
        expect(row).to_contain_text("payment")
        shot(page, "alerts-page-firing.png")

        row.locator("button[data-action=acknowledge]").click()
        expect(page.locator(".message-success")).to_contain_text("acknowledged.")
        expect(row).to_have_attribute("data-state", "acknowledged")
        expect(row.locator("button[data-action=acknowledge]")).to_have_count(0)
        expect(row).to_contain_text("oncall")

        row.locator("a").first.click()
        timeline = page.locator("#timeline")
        expect(timeline.locator("[data-kind=fired]")).to_have_count(1)
        expect(timeline.locator("[data-kind=acknowledged]")).to_contain_text("by oncall")
        expect(timeline.locator("[data-kind=notified]").first).to_contain_text("Ops Slack")
        expect(page.locator("#alert-state")).to_have_text("Acknowledged")
        page.evaluate("window.__notReloaded = true")

        # Resolved elsewhere (the API): the open page's timeline follows without a reload.
        alert_id = page.url.rstrip("/").rsplit("/", 1)[1]
        answer = context.request.post(
            f"{base}/api/v1/monitoring/alerts/{alert_id}/resolve", headers=bearer
        )
        assert answer.status == 200
        expect(timeline.locator("[data-kind=resolved]")).to_contain_text("by robot", timeout=15_000)
        expect(page.locator("#alert-state")).to_have_text("Resolved")
        assert page.evaluate("window.__notReloaded") is True
        chart = page.locator("#chart")
        assert chart.evaluate("img => img.decode().then(() => img.naturalWidth)") > 0
        shot(page, "alert-page-timeline.png")

        # The stale page's button: its alert resolved meanwhile; a message, nothing changed.
        page.goto(base + "/alerts/?state=resolved")
        expect(page.locator("#recent-alerts tbody tr")).to_have_count(1)
        assert problems == []
        context.close()


def test_a_viewer_sees_the_alert_pages_without_a_single_button(
    live_server: Any, make_user: Callable[..., Any], make_rule: Callable[..., Rule]
) -> None:
    rule = make_rule(name="Queue Backup", slug="queue-backup", for_seconds=0, severity="error")
    apply_evaluation(rule=rule, result=vector(({"service": "payment"}, 500)), now=timezone.now())
    alert = Alert.objects.get(rule=rule)
    cookie = session_cookie(make_user("wall", Role.VIEWER), live_server.url)
    with chromium_browser() as browser:
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        context.add_cookies([cookie])
        page = context.new_page()
        problems = watch(page)
        for url in ("/alerts/", f"/alerts/{alert.pk}/", "/rules/"):
            page.goto(live_server.url + url)
            expect(page.locator("h1")).to_be_visible()
            assert page.locator("main [data-action], main form[method=post]").count() == 0, url
            assert page.locator("nav a", has_text="Admin").count() == 0
        expect(page.locator("#rule-queue-backup .last-state")).to_contain_text("firing")
        shot(page, "rules-page-viewer.png")
        page.goto(live_server.url + f"/alerts/{alert.pk}/")
        shot(page, "alert-page-viewer.png")
        assert problems == []
        context.close()


def _wall_platform(make_rule: Callable[..., Rule], operator: Any, platform: PlatformServer) -> None:
    """The 21 platform services in mixed states, two alerts on the wall (one acknowledged)."""
    now = timezone.now()
    states = {"payment": "down", "search": "degraded", "analytics": "down"}
    for spec in PLATFORM_SERVICES:
        Service.objects.create(
            slug=spec.slug,
            name=spec.name,
            target=platform.url(f"/{spec.slug}", "ok"),
            health_path="",
            critical=spec.critical,
            state=states.get(spec.slug, "up"),
            state_since=now,
            last_checked_at=now,
            last_latency_ms=12.5,
            last_error="HTTP 503 from /health" if spec.slug in states else "",
        )
    for name, service in (("Payment errors", "payment"), ("Search latency", "search")):
        rule = make_rule(name=name, for_seconds=0, severity="critical")
        apply_evaluation(rule=rule, result=vector(({"service": service}, 500)), now=now)
    acknowledge_alert(alert=Alert.objects.get(rule__name="Search latency"), user=operator)


def _assert_every_tile_on_screen(page: Page, width: int, height: int) -> None:
    boxes = page.evaluate(
        """() => Array.from(document.querySelectorAll('li.tile')).map(tile => {
             const box = r => { const b = r.getBoundingClientRect();
                                return {x: b.left, y: b.top, r: b.right, b: b.bottom}; };
             return {slug: tile.dataset.slug, tile: box(tile),
                     parts: ['.tile-name', '.state-word', '.latency', '.heartbeat']
                       .map(s => box(tile.querySelector(s)))};
           })"""
    )
    assert len(boxes) == 21
    for found in boxes:
        tile = found["tile"]
        where = f"{found['slug']} at {width}x{height}: {tile}"
        assert tile["x"] >= 0 and tile["y"] >= 0, where
        assert tile["r"] <= width and tile["b"] <= height, where
        for part in found["parts"]:  # what the tile says is inside it, not cut off
            assert tile["x"] <= part["x"] and part["r"] <= tile["r"] + 0.5, (where, part)
            assert tile["y"] <= part["y"] and part["b"] <= tile["b"] + 0.5, (where, part)
    assert page.evaluate("document.documentElement.scrollHeight") <= height
    assert page.evaluate("document.documentElement.scrollWidth") <= width


@pytest.mark.parametrize(("width", "height"), WALL_SIZES, ids=["1920x1080", "1280x720"])
def test_the_wall_screen_shows_every_service_and_the_alerts_on_one_screen(
    live_server: Any,
    make_user: Callable[..., Any],
    make_rule: Callable[..., Rule],
    operator: Any,
    platform: PlatformServer,
    width: int,
    height: int,
) -> None:
    _wall_platform(make_rule, operator, platform)
    cookie = session_cookie(make_user("wall", Role.VIEWER), live_server.url)
    with chromium_browser() as browser:
        context = browser.new_context(viewport={"width": width, "height": height})
        context.add_cookies([cookie])
        page = context.new_page()
        problems = watch(page)
        page.goto(live_server.url + "/?wall=1")
        page.wait_for_selector("#dashboard[data-loaded='true']")
        assert page.locator(".site-nav").count() == 0  # no chrome
        assert page.locator("#wall-link").count() == 0
        _assert_every_tile_on_screen(page, width, height)
        panel = page.locator("#alert-panel")
        expect(panel.locator("li.alert-item")).to_have_count(2)
        expect(panel.locator("li.alert-firing")).to_contain_text("Payment errors")
        expect(panel.locator("li.alert-acknowledged")).to_contain_text("otto-operator")
        first_tile, panel_box = page.locator("li.tile").first.bounding_box(), panel.bounding_box()
        assert first_tile is not None and panel_box is not None
        assert panel_box["y"] < first_tile["y"]
        # Larger type than the ordinary dashboard at the same size.
        wall_font = page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)")
        shot(page, f"wall-{width}x{height}.png", full_page=False)
        page.goto(live_server.url + "/")
        page.wait_for_selector("#dashboard[data-loaded='true']")
        assert wall_font > page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)")
        assert page.locator(".site-nav").count() == 1
        assert problems == []
        context.close()


def test_the_wall_screen_reconnects_by_itself_after_the_server_restarts(
    transactional_db: Any,
    make_user: Callable[..., Any],
    make_rule: Callable[..., Rule],
    operator: Any,
    settings: Any,
    platform: PlatformServer,
) -> None:
    settings.HEALTH_DASHBOARD_REFRESH_SECONDS = 2
    _wall_platform(make_rule, operator, platform)
    Service.objects.filter(slug="auth").update(failure_threshold=1)
    token = str(RefreshToken.for_user(operator).access_token)
    server = RestartableLiveServer()
    server.start()
    try:
        cookie = session_cookie(make_user("wall", Role.VIEWER), server.url)
        with chromium_browser() as browser:
            context = browser.new_context(viewport={"width": 1280, "height": 720})
            context.add_cookies([cookie])
            page = context.new_page()
            page.goto(server.url + "/?wall=1")
            page.wait_for_selector("#dashboard[data-loaded='true']")
            page.evaluate("window.__notReloaded = true")
            auth = page.locator("li.tile[data-slug='auth']")
            expect(auth).to_have_attribute("data-state", "up")

            server.stop()
            expect(page.locator("#connection")).to_be_visible(timeout=15_000)
            expect(page.locator("#connection")).to_contain_text("Connection lost")
            shot(page, "wall-connection-lost.png", full_page=False)

            platform.behaviours["/auth"] = "fail"  # meanwhile, auth fails
            server.start()
            answer = context.request.post(
                server.url + "/api/v1/monitoring/health/check",
                headers={"Authorization": f"Bearer {token}"},
            )
            assert answer.status == 200
            expect(page.locator("#connection")).to_be_hidden(timeout=15_000)
            expect(auth).to_have_attribute("data-state", "down", timeout=15_000)
            assert page.evaluate("window.__notReloaded") is True
            assert page.evaluate("document.getElementById('dashboard').dataset.connection") == "ok"
            shot(page, "wall-reconnected.png", full_page=False)
            context.close()
    finally:
        server.stop()
