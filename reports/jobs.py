"""The daily report job (at REPORT_TIME in TIME_ZONE), its e-mail retries, and retention."""

from __future__ import annotations

from django.conf import settings

from monitoring_site.jobs import Cleanup, Job

_HOUR, _MINUTE = (int(part) for part in settings.REPORT_TIME.split(":"))

JOBS = [
    Job(
        name="reports.daily",
        func="reports.tasks.daily_reports",
        cron=f"{_MINUTE} {_HOUR} * * *",
        timezone=settings.TIME_ZONE,
    ),
    # Retries of report e-mails that failed for a while (the daily job sends at once).
    Job(name="reports.deliver", func="reports.tasks.deliver_reports", minutes=1),
]
CLEANUPS = [
    Cleanup(
        name="daily reports",
        model="reports.Report",
        field="generated_at",
        setting="REPORT_RETENTION_DAYS",
    ),
]
