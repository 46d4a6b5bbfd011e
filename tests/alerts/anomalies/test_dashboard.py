"""The dashboard marks anomalies: its JSON (through health's hand-off) and the page in Chromium."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.test import Client
from django.utils import timezone

from alerts.anomalies.method import PointScore
from alerts.anomalies.services import ANOMALY_RULE_SPEC, create_detector, raise_anomaly
from alerts.bootstrap.rules import _rule_fields
from alerts.models import AnomalyDetector, Rule
from monitoring_site.roles import Role
from tests.alerts.anomalies.rows import EXPRESSION
from tests.support.browser import chromium_browser

pytestmark = pytest.mark.django_db


def _two_detectors() -> tuple[AnomalyDetector, AnomalyDetector]:
    fields = {"expression": EXPRESSION, "seasonality": "daily", "channels": []}
    calm = create_detector(fields={**fields, "name": "Refund ratio", "slug": "r"}, user=None)
    AnomalyDetector.objects.filter(pk=calm.pk).update(
        status="learning", status_message="learning: 1.0 days of history, 3.0 days needed"
    )
    sold = create_detector(fields={**fields, "name": "Tickets sold", "slug": "t"}, user=None)
    rule = Rule.objects.create(**_rule_fields(ANOMALY_RULE_SPEC))
    now = timezone.now()
    point = PointScore(now, 412.0, 980.0, 850.0, 1110.0, -9.1, True)
    assert raise_anomaly(sold, point, rule=rule, now=now) is not None
    return calm, sold


def test_the_dashboard_data_marks_the_detector_with_an_open_anomaly(
    client: Client, viewer: Any
) -> None:
    _two_detectors()
    client.force_login(viewer)

    rows = client.get("/dashboard/data").json()["anomalies"]

    assert [(row["name"], row["status"]) for row in rows] == [
        ("Refund ratio", "learning"),
        ("Tickets sold", "anomalous"),
    ]
    assert rows[0]["message"] == "learning: 1.0 days of history, 3.0 days needed"
    assert rows[1]["message"] == "Tickets sold: observed 412, expected 980"
    assert rows[1]["alert"] is not None and rows[1]["since"].endswith("Z")


@pytest.mark.browser
def test_the_dashboard_page_shows_the_anomaly(
    live_server: Any, make_user: Callable[..., Any]
) -> None:
    _two_detectors()
    client = Client()
    client.force_login(make_user("wall", Role.VIEWER))
    session = client.cookies[django_settings.SESSION_COOKIE_NAME].value
    with chromium_browser() as browser:
        context = browser.new_context()
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
        page.on("pageerror", lambda exc: problems.append(str(exc)))
        page.goto(live_server.url + "/")
        page.wait_for_selector("#dashboard[data-loaded='true']")

        flagged = page.locator("li.anomaly[data-status='anomalous']")
        assert flagged.count() == 1
        assert flagged.locator(".anomaly-status").text_content() == "Anomaly"
        assert "observed 412, expected 980" in flagged.inner_text()
        assert page.locator("#anomaly-count").text_content() == "(1 anomalous · 2)"
        assert page.locator("li.anomaly[data-status='learning']").count() == 1
        assert problems == []
        context.close()
