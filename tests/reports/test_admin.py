"""Reports in the admin: read-only rows, and an admin may e-mail a report again."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
import time_machine
from django.test import Client

from reports.models import Report, ReportDelivery
from reports.services import generate_report
from tests.reports.conftest import MORNING

pytestmark = pytest.mark.django_db


@pytest.fixture
def report(db: Any) -> Report:
    with time_machine.travel(MORNING, tick=False):
        return generate_report(day=date(2026, 3, 29))


def test_an_admin_emails_a_report_again_through_the_delivery_queue(
    report: Report, admin: Any
) -> None:
    client = Client()
    client.force_login(admin)
    response = client.post(
        "/admin/reports/report/",
        {"action": "send_by_email", "_selected_action": [report.pk]},
        follow=True,
    )
    assert "1 report e-mail(s) queued; the minute job sends them." in response.content.decode()
    delivery = ReportDelivery.objects.get()
    assert (delivery.report, delivery.state) == (report, "queued")
    assert delivery.recipients == ["ops@example.com", "business@example.com"]


def test_the_report_list_links_each_page(report: Report, operator: Any) -> None:
    client = Client()
    client.force_login(operator)
    page = client.get("/admin/reports/report/").content.decode()
    assert '<a href="/reports/2026-03-29/">/reports/2026-03-29/</a>' in page
