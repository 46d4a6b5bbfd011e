"""``manage.py generate_report [--date YYYY-MM-DD] [--send]``: make (or remake) one day's report."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.urls import reverse

from reports.selectors import today
from reports.services import ReportDateError, generate_and_send, parse_report_date


class Command(BaseCommand):
    help = "Make the daily report of a day (default: yesterday), replacing a stored one."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--date", help="the day, YYYY-MM-DD in TIME_ZONE (default: yesterday)")
        parser.add_argument(
            "--send", action="store_true", help="e-mail it to REPORT_RECIPIENTS now"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        value = options["date"] or (today() - timedelta(days=1)).isoformat()
        try:
            day = parse_report_date(value)
        except ReportDateError as exc:
            raise CommandError(str(exc)) from None
        report, sent = generate_and_send(day=day, send=options["send"])
        url = settings.SITE_URL.rstrip("/") + reverse("report-page", args=[value])
        state = "with data" if report.has_data else "no data recorded that day"
        self.stdout.write(f"report of {value} ({settings.TIME_ZONE}) stored, {state}: {url}")
        if options["send"]:
            self._say_sent(sent)

    def _say_sent(self, sent: Any) -> None:
        if sent is None:
            raise CommandError("not sent: no recipients (set REPORT_RECIPIENTS or ALERT_TO_EMAIL)")
        if sent.state == "delivered":
            self.stdout.write(f"e-mailed to {', '.join(sent.recipients)}")
            return
        retry = " (it will be retried)" if sent.state == "queued" else ""
        raise CommandError(f"e-mail {sent.state}{retry}: {sent.last_error}")
