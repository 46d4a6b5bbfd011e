"""The report page in headless Chromium: charts render, no console errors, printable."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.conf import settings as django_settings
from django.test import Client
from playwright.sync_api import expect

from monitoring_site.roles import Role
from reports.services import generate_report
from tests.reports.conftest import MORNING
from tests.support.browser import chromium_browser

ARTIFACTS = Path(django_settings.BASE_DIR) / "test-artifacts"


@pytest.mark.browser
@pytest.mark.slow
def test_the_report_page_renders_its_charts_in_chromium_without_console_errors(
    live_server: Any, seeded: Any, make_user: Any
) -> None:
    with time_machine.travel(MORNING, tick=False):
        generate_report(day=date(2026, 3, 29))
    client = Client()
    client.force_login(make_user("wall-screen", Role.VIEWER))
    session = client.cookies[django_settings.SESSION_COOKIE_NAME].value
    with chromium_browser() as browser:
        context = browser.new_context(viewport={"width": 1000, "height": 1200})
        context.add_cookies(
            [
                {
                    "name": django_settings.SESSION_COOKIE_NAME,
                    "value": session,
                    "url": live_server.url,
                }
            ]
        )
        page = context.new_page()
        problems: list[str] = []
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda exc: problems.append(str(exc)))
        page.goto(live_server.url + "/reports/")
        page.get_by_role("link", name="2026-03-29 (Sun)").click()

        expect(page.locator("h1")).to_have_text("TicketToken daily report: 2026-03-29")
        expect(page.locator("#overall-uptime")).to_have_text("98.91%")
        expect(page.locator("#business-figures tr[data-figure='tickets'] td").nth(1)).to_have_text(
            "40"
        )
        expect(page.locator("#anomalies-note")).to_contain_text("not enabled")
        for name in ("uptime", "tickets", "timeline"):
            chart = page.locator(f"#chart-{name}")
            # The first chart loads matplotlib in the server: slow on a loaded machine.
            expect(chart).to_be_visible(timeout=30_000)
            assert chart.evaluate("img => img.decode().then(() => img.naturalWidth)") == 800
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "report-page.png"), full_page=True)
        page.emulate_media(media="print")
        expect(page.locator("nav")).to_be_hidden()
        page.pdf(path=str(ARTIFACTS / "report-page.pdf"))
        assert problems == []
        context.close()
