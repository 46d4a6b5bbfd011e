"""Headless Chromium for the browser tests (the machine's /usr/bin/chromium, via Playwright)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tests.support.components import require_binary

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


@contextmanager
def chromium_browser() -> Iterator[Any]:
    """Headless Chromium. Playwright's sync API keeps an event loop running in this thread, which
    makes Django hand the thread a second, context-local database connection; so a test does its
    ORM work before the browser starts and afterwards talks to the live server only."""
    chromium = require_binary("chromium", "/usr/bin/chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
