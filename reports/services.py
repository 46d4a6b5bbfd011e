"""Making reports: one day on demand (replacing it), or the days the daily job is due to make."""

from __future__ import annotations

import logging
import re
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from reports import delivery
from reports.models import Report, ReportDelivery
from reports.selectors import Day, report_data, today

logger = logging.getLogger(__name__)


class ReportDateError(ValueError):
    """A report date that is malformed, or a day that has not ended yet."""


def parse_report_date(value: str, *, now: datetime | None = None) -> date:
    """``YYYY-MM-DD`` of a day that has ended on the clock of ``TIME_ZONE``."""
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value or ""):
        raise ReportDateError(f"date: {value!r} is not a date as YYYY-MM-DD.")
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise ReportDateError(f"date: {value!r} is not a date on the calendar.") from None
    current = today(now)
    if day >= current:
        when = "is in the future" if day > current else "has not ended yet"
        raise ReportDateError(f"date: {value} {when} in {settings.TIME_ZONE} (today is {current}).")
    return day


@transaction.atomic
def generate_report(*, day: date, now: datetime | None = None) -> Report:
    """Make the report of ``day`` (a past date in ``TIME_ZONE``), replacing a stored one."""
    now = now or timezone.now()
    data = report_data(Day(day, settings.TIME_ZONE), now=now)
    report, _ = Report.objects.update_or_create(day=day, defaults=_fields(data, now))
    logger.info("report generated", extra={"day": day.isoformat(), "has_data": data["has_data"]})
    return report


def _fields(data: dict[str, Any], now: datetime) -> dict[str, Any]:
    return {
        "time_zone": data["time_zone"],
        "generated_at": now,
        "has_data": data["has_data"],
        "data": data,
    }


def due_days(*, now: datetime | None = None) -> list[date]:
    """The days whose report the daily job should make now, oldest first.

    Yesterday once ``REPORT_TIME`` has passed today; and, after an outage, the days missed since
    the last stored report (at most ``REPORT_CATCH_UP_DAYS``). A fresh install starts with
    yesterday's (at ``REPORT_TIME``) rather than a week of empty reports.
    """
    now = now or timezone.now()
    current = today(now)
    latest = current - timedelta(days=1 if _report_time_passed(now, current) else 2)
    stored = Report.objects.order_by("-day").values_list("day", flat=True).first()
    earliest = latest - timedelta(days=settings.REPORT_CATCH_UP_DAYS - 1)
    if stored is None:
        earliest = current - timedelta(days=1)
    elif stored >= earliest:
        earliest = stored + timedelta(days=1)
    days = [earliest + timedelta(days=n) for n in range((latest - earliest).days + 1)]
    existing = set(Report.objects.filter(day__in=days).values_list("day", flat=True))
    return [day for day in days if day not in existing]


def _report_time_passed(now: datetime, current: date) -> bool:
    hour, minute = (int(part) for part in settings.REPORT_TIME.split(":"))
    due = datetime.combine(current, time(hour, minute), tzinfo=ZoneInfo(settings.TIME_ZONE))
    return now >= due


def make_due_reports(*, now: datetime | None = None) -> dict[str, Any]:
    """The daily job: make each due report, queue its e-mail, then deliver what is due."""
    now = now or timezone.now()
    made = []
    for day in due_days(now=now):
        report = _create_once(day, now)
        if report is not None:
            made.append(day.isoformat())
    sent = delivery.deliver_due()
    return {"generated": made, "delivered": sent}


def _create_once(day: date, now: datetime) -> Report | None:
    """Store the report and queue its e-mail, unless another worker stored it first."""
    data = report_data(Day(day, settings.TIME_ZONE), now=now)
    try:
        with transaction.atomic():
            report = Report.objects.create(day=day, **_fields(data, now))
            delivery.queue_email(report=report, now=now)
    except IntegrityError:
        logger.info("report already made by another worker", extra={"day": day.isoformat()})
        return None
    return report


def email_report(*, report: Report) -> ReportDelivery | None:
    """E-mail a stored report again (the admin's action): queued now, sent by the minute job."""
    return delivery.queue_email(report=report, now=timezone.now())


def generate_and_send(*, day: date, send: bool) -> tuple[Report, ReportDelivery | None]:
    """``manage.py generate_report``: make (or remake) the day, and with ``send`` e-mail it now."""
    report = generate_report(day=day)
    if not send:
        return report, None
    queued = email_report(report=report)
    if queued is None:
        return report, None
    return report, delivery.deliver_now(queued)
