"""The report pages (viewer login), the JSON API, and the command; bad dates are clear errors."""

from __future__ import annotations

import subprocess
import sys
from datetime import date, timedelta
from typing import Any

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.test import Client

from monitoring_site.roles import Role
from reports.charts import render_chart
from reports.models import Report
from reports.services import generate_report
from tests.reports.conftest import MORNING, seed_health
from tests.support.smtp import SmtpServer

pytestmark = pytest.mark.django_db


@pytest.fixture
def stored(seeded: Any) -> Report:
    with time_machine.travel(MORNING, tick=False):
        return generate_report(day=date(2026, 3, 29))


@pytest.fixture
def viewer_client(make_user: Any) -> Client:
    client = Client()
    client.force_login(make_user("vera", Role.VIEWER))
    return client


def test_the_report_pages_send_anonymous_visitors_to_the_login(stored: Report) -> None:
    for url in ("/reports/", "/reports/2026-03-29/", "/reports/2026-03-29/charts/uptime.png"):
        response = Client().get(url)
        assert (response.status_code, response["Location"]) == (
            302,
            f"/dashboard/login?next={url}",
        )


def test_an_account_without_a_role_may_not_read_reports(stored: Report, make_user: Any) -> None:
    client = Client()
    client.force_login(make_user("nils"))
    assert client.get("/reports/2026-03-29/").status_code == 403


def test_the_list_links_every_stored_report_newest_first(
    stored: Report, viewer_client: Client
) -> None:
    with time_machine.travel(MORNING, tick=False):
        generate_report(day=date(2026, 3, 15))
    page = viewer_client.get("/reports/").content.decode()
    assert page.index('href="/reports/2026-03-29/"') < page.index('href="/reports/2026-03-15/"')
    assert "98.91%" in page
    assert "no data" in page


def test_the_report_page_shows_the_figures_and_its_three_charts(
    stored: Report, viewer_client: Client
) -> None:
    page = viewer_client.get("/reports/2026-03-29/").content.decode()
    assert '<strong id="overall-uptime">98.91%</strong>' in page
    assert '<strong id="incident-total">4</strong>' in page
    assert "2026-03-29 00:00 CET to 2026-03-30 00:00 CEST (23 hours)" in page
    for name in ("uptime", "tickets", "timeline"):
        assert f'src="/reports/2026-03-29/charts/{name}.png"' in page
    assert "Anomaly detection is not enabled" in page


def test_a_missing_report_a_bad_date_and_an_unknown_chart_are_404(
    stored: Report, viewer_client: Client
) -> None:
    for url in (
        "/reports/2026-03-28/",
        "/reports/2026-02-30/",
        "/reports/yesterday/",
        "/reports/2026-03-29/charts/pie.png",
    ):
        assert viewer_client.get(url).status_code == 404, url


def test_the_api_serves_the_stored_figures(stored: Report, client_for: Any, viewer: Any) -> None:
    response = client_for(viewer).get("/api/v1/monitoring/reports/2026-03-29")
    assert response.status_code == 200
    body = response.json()
    assert body == stored.data
    assert body["business"]["figures"]["tickets"]["value"] == 40


@pytest.mark.parametrize(
    ("day", "message"),
    [
        ("29-03-2026", "date: '29-03-2026' is not a date as YYYY-MM-DD."),
        ("2026-02-30", "date: '2026-02-30' is not a date on the calendar."),
        ("2026-03-31", "date: 2026-03-31 is in the future in Europe/Paris (today is 2026-03-30)."),
        ("2026-03-30", "date: 2026-03-30 has not ended yet in Europe/Paris (today is 2026-03-30)."),
    ],
)
def test_the_api_refuses_a_malformed_or_future_date_naming_the_field(
    db: Any, client_for: Any, viewer: Any, day: str, message: str
) -> None:
    with time_machine.travel(MORNING, tick=False):
        response = client_for(viewer).get(f"/api/v1/monitoring/reports/{day}")
    assert response.status_code == 400
    assert response.json()["message"] == message
    assert "date" in response.json()["details"]


def test_the_api_says_when_a_day_has_no_report_yet(db: Any, client_for: Any, viewer: Any) -> None:
    with time_machine.travel(MORNING, tick=False):
        response = client_for(viewer).get("/api/v1/monitoring/reports/2026-03-01")
    assert (response.status_code, response.json()["message"]) == (
        404,
        "No report for 2026-03-01 yet.",
    )


def test_the_command_makes_yesterdays_report_and_sends_it(
    seeded: Any, smtp_server: SmtpServer, capsys: Any
) -> None:
    with time_machine.travel(MORNING, tick=False):
        call_command("generate_report", "--send")
    out = capsys.readouterr().out
    assert "report of 2026-03-29 (Europe/Paris) stored, with data" in out
    assert "https://monitor.example.com/reports/2026-03-29/" in out
    assert "e-mailed to ops@example.com, business@example.com" in out
    assert len(smtp_server.messages) == 1


def test_the_command_regenerates_a_given_date_without_sending(seeded: Any, capsys: Any) -> None:
    with time_machine.travel(MORNING, tick=False):
        call_command("generate_report", "--date", "2026-03-22")
        call_command("generate_report", "--date", "2026-03-22")
    assert Report.objects.get().day == date(2026, 3, 22)
    assert "e-mailed" not in capsys.readouterr().out


@pytest.mark.parametrize("value", ["2026-13-01", "tomorrow", "2026-04-02"])
def test_the_command_refuses_a_bad_or_future_date(db: Any, value: str) -> None:
    with time_machine.travel(MORNING, tick=False), pytest.raises(CommandError, match="date: "):
        call_command("generate_report", "--date", value)
    assert Report.objects.count() == 0


def test_the_command_says_when_the_mail_server_refused(
    seeded: Any, smtp_server: SmtpServer
) -> None:
    smtp_server.reply(451, times=1)
    with (
        time_machine.travel(MORNING, tick=False),
        pytest.raises(CommandError, match="e-mail queued \\(it will be retried\\): SMTP 451"),
    ):
        call_command("generate_report", "--send")
    assert Report.objects.count() == 1


def test_web_and_worker_processes_load_matplotlib_only_to_draw_a_chart() -> None:
    script = (
        "import django, sys; django.setup();"
        "from django.urls import get_resolver; get_resolver().url_patterns;"
        "import reports.delivery, reports.services, reports.tasks;"
        "print('matplotlib' in sys.modules)"
    )
    env = {
        "DJANGO_SETTINGS_MODULE": "monitoring_site.settings",
        "DEBUG": "true",
        "PYTHON_DOTENV_DISABLED": "1",
    }
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True
    )
    assert out.stdout.strip() == "False"


def test_a_remade_report_serves_its_new_charts_not_the_cached_ones(
    db: Any, viewer_client: Client
) -> None:
    with time_machine.travel(MORNING, tick=False):
        generate_report(day=date(2026, 3, 29))
    before = viewer_client.get("/reports/2026-03-29/charts/uptime.png").content
    seed_health()
    with time_machine.travel(MORNING + timedelta(minutes=5), tick=False):
        remade = generate_report(day=date(2026, 3, 29))
    after = viewer_client.get("/reports/2026-03-29/charts/uptime.png").content
    assert after != before
    assert after == render_chart("uptime", remade.data)
