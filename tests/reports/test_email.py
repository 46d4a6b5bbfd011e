"""The report e-mail through a real SMTP server (aiosmtpd on 127.0.0.1), with inline charts."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
import time_machine
from django.test import Client

from monitoring_site.roles import Role
from reports.charts import CHARTS, render_chart
from reports.delivery import deliver_due, deliver_now, queue_email
from reports.models import ReportDelivery
from reports.services import generate_report, make_due_reports
from tests.reports.conftest import MORNING
from tests.support.smtp import SmtpServer

pytestmark = pytest.mark.django_db


def test_the_daily_job_emails_html_with_inline_charts_and_a_plain_text_part(
    seeded: Any, smtp_server: SmtpServer
) -> None:
    with time_machine.travel(MORNING, tick=False):
        result = make_due_reports()

    assert result == {"generated": ["2026-03-29"], "delivered": 1}
    [received] = smtp_server.messages
    message = received.message
    assert received.mail_from == "reports@tickettoken.example"
    assert received.rcpt_tos == ["ops@example.com", "business@example.com"]
    assert message["Subject"] == "TicketToken daily report 2026-03-29: 98.91% uptime, 4 alerts"
    text = received.part("text/plain")
    assert "Overall: 98.91% of 2,760 checks" in text
    assert "Tickets sold: 40 (day before +8 (+25.0%), week before -10 (-20.0%))" in text
    assert "Time to acknowledge: median 7 min, worst 10 min (2 alerts)" in text
    assert "Anomaly detection is not enabled" in text
    html = received.part("text/html")
    assert "https://monitor.example.com/reports/2026-03-29/" in html
    images = {
        part["Content-ID"]: part.get_content()
        for part in message.walk()
        if part.get_content_type() == "image/png"
    }
    assert set(images) == {f"<{name}>" for name in CHARTS}
    for name in CHARTS:
        assert f'src="cid:{name}"' in html
        assert images[f"<{name}>"].startswith(b"\x89PNG\r\n\x1a\n")
    delivery = ReportDelivery.objects.get()
    assert (delivery.state, delivery.attempts, delivery.last_status) == ("delivered", 1, 250)


def test_the_page_and_the_email_show_the_same_chart_images(
    seeded: Any, smtp_server: SmtpServer, make_user: Any
) -> None:
    with time_machine.travel(MORNING, tick=False):
        report = generate_report(day=date(2026, 3, 29))
    queued = queue_email(report=report, now=MORNING)
    assert queued is not None
    deliver_now(queued)
    [received] = smtp_server.messages
    client = Client()
    client.force_login(make_user("vera", Role.VIEWER))
    for part in received.message.walk():
        if part.get_content_type() == "image/png":
            name = part["Content-ID"].strip("<>")
            page_image = client.get(f"/reports/2026-03-29/charts/{name}.png")
            assert page_image["Content-Type"] == "image/png"
            assert page_image.content == part.get_content() == render_chart(name, report.data)


def test_a_refusing_mail_server_keeps_the_report_and_retries_until_delivered(
    seeded: Any, smtp_server: SmtpServer
) -> None:
    smtp_server.reply(451, times=2)
    with time_machine.travel(MORNING, tick=False) as clock:
        make_due_reports()
        delivery = ReportDelivery.objects.get()
        assert (delivery.state, delivery.attempts, delivery.last_status) == ("queued", 1, 451)
        assert delivery.report.day == date(2026, 3, 29)  # the report is stored all the same
        assert delivery.due_at > MORNING
        assert deliver_due() == 0  # not due yet

        clock.move_to(MORNING + timedelta(minutes=30))
        assert deliver_due() == 1  # the second 451
        clock.move_to(MORNING + timedelta(hours=2))
        assert deliver_due() == 1

    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts, delivery.last_error) == ("delivered", 3, "")
    assert len(smtp_server.messages) == 1


def test_a_permanent_refusal_fails_the_delivery_without_retrying(
    seeded: Any, smtp_server: SmtpServer
) -> None:
    smtp_server.reply(554, times=1)
    with time_machine.travel(MORNING, tick=False):
        make_due_reports()
    delivery = ReportDelivery.objects.get()
    assert (delivery.state, delivery.attempts, delivery.last_status) == ("failed", 1, 554)
    assert "554" in delivery.last_error


def test_an_unreachable_mail_server_is_retried(seeded: Any, smtp_server: SmtpServer) -> None:
    smtp_server.stop()
    with time_machine.travel(MORNING, tick=False):
        make_due_reports()
    delivery = ReportDelivery.objects.get()
    assert (delivery.state, delivery.attempts) == ("queued", 1)
    assert "SMTP connection failed" in delivery.last_error


def test_without_recipients_the_report_is_stored_and_nothing_is_queued(
    seeded: Any, settings: Any
) -> None:
    settings.REPORT_RECIPIENTS = []
    with time_machine.travel(MORNING, tick=False):
        assert make_due_reports()["generated"] == ["2026-03-29"]
    assert ReportDelivery.objects.count() == 0


def test_a_day_without_data_is_emailed_saying_so(db: Any, smtp_server: SmtpServer) -> None:
    with time_machine.travel(MORNING, tick=False):
        make_due_reports()
    [received] = smtp_server.messages
    assert received.message["Subject"] == "TicketToken daily report 2026-03-29: no data recorded"
    assert "No data was recorded on this day" in received.part("text/plain")
    assert "No data was recorded on this day" in received.part("text/html")
