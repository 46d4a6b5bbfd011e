"""The daily job: 08:00 in TIME_ZONE across DST, one report per date, missed days caught up."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django_q.models import Schedule

from monitoring_site.jobs import Job, install_schedules, job_by_name, run_job
from reports.models import Report, ReportDelivery
from reports.services import due_days, generate_report, make_due_reports
from tests.reports.conftest import MORNING, ZONE

pytestmark = pytest.mark.django_db

DAILY = Job(name="reports.daily", func="x.daily", cron="0 8 * * *", timezone=ZONE)


def test_the_report_job_fires_at_eight_in_paris_in_winter_and_in_summer() -> None:
    # CET (UTC+1) until 2026-03-29 02:00, CEST (UTC+2) after, CET again from 2026-10-25 03:00.
    assert DAILY.next_fire(datetime(2026, 3, 28, 12, 0, tzinfo=UTC)) == datetime(
        2026, 3, 29, 6, 0, tzinfo=UTC
    )
    assert DAILY.next_fire(datetime(2026, 3, 27, 12, 0, tzinfo=UTC)) == datetime(
        2026, 3, 28, 7, 0, tzinfo=UTC
    )
    assert DAILY.next_fire(datetime(2026, 10, 24, 12, 0, tzinfo=UTC)) == datetime(
        2026, 10, 25, 7, 0, tzinfo=UTC
    )


def test_an_unknown_time_zone_is_refused_when_the_job_is_declared() -> None:
    with pytest.raises(ValueError, match="'Mars/Olympus' is not a time zone"):
        Job(name="x", func="x.y", cron="0 8 * * *", timezone="Mars/Olympus")


def test_the_report_job_is_declared_at_report_time_in_time_zone() -> None:
    job = job_by_name("reports.daily")
    assert (job.func, job.cron) == ("reports.tasks.daily_reports", "0 8 * * *")


def test_installing_a_cron_job_schedules_its_next_fire_in_its_own_zone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from monitoring_site import jobs

    monkeypatch.setattr(jobs, "all_jobs", lambda: [DAILY])
    install_schedules(now=datetime(2026, 3, 29, 7, 0, tzinfo=UTC))  # 09:00 CEST: tomorrow
    assert Schedule.objects.get(name="reports.daily").next_run == datetime(
        2026, 3, 30, 6, 0, tzinfo=UTC
    )


def test_each_run_puts_the_schedule_at_the_next_eight_oclock_even_across_the_change(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from monitoring_site import jobs

    monkeypatch.setattr(jobs, "all_jobs", lambda: [DAILY])
    install_schedules(now=datetime(2026, 3, 27, 12, 0, tzinfo=UTC))
    # The scheduler computed the next run on another clock (UTC): the run corrects it.
    Schedule.objects.filter(name="reports.daily").update(
        next_run=datetime(2026, 3, 29, 8, 0, tzinfo=UTC)
    )
    with time_machine.travel(datetime(2026, 3, 28, 7, 0, 20, tzinfo=UTC), tick=False):
        run_job("reports.daily", func=lambda: None)
    assert Schedule.objects.get(name="reports.daily").next_run == datetime(
        2026, 3, 29, 6, 0, tzinfo=UTC
    )


def test_before_report_time_yesterday_is_not_due_and_after_it_is(db: Any) -> None:
    seven_fifty_nine = datetime(2026, 3, 30, 5, 59, tzinfo=UTC)
    assert due_days(now=seven_fifty_nine) == []
    assert due_days(now=MORNING) == [date(2026, 3, 29)]


def test_a_fresh_install_makes_only_yesterday(db: Any) -> None:
    with time_machine.travel(MORNING, tick=False):
        result = make_due_reports()
    assert result["generated"] == ["2026-03-29"]
    assert list(Report.objects.values_list("day", flat=True)) == [date(2026, 3, 29)]


def test_after_an_outage_the_next_run_makes_the_missed_days_up_to_seven(db: Any) -> None:
    with time_machine.travel(datetime(2026, 3, 10, 7, 0, tzinfo=UTC), tick=False):
        generate_report(day=date(2026, 3, 9))
    # Down from 2026-03-10 until 2026-03-30 09:30 local: 20 days missed, the last 7 are made.
    with time_machine.travel(MORNING + timedelta(hours=1, minutes=30), tick=False):
        result = make_due_reports()
    assert result["generated"] == [f"2026-03-{day}" for day in range(23, 30)]
    assert ReportDelivery.objects.count() == 7  # each is e-mailed


def test_a_short_outage_catches_up_exactly_the_days_missed(db: Any) -> None:
    with time_machine.travel(datetime(2026, 3, 26, 7, 0, tzinfo=UTC), tick=False):
        generate_report(day=date(2026, 3, 25))
    with time_machine.travel(MORNING, tick=False):
        assert make_due_reports()["generated"] == [
            "2026-03-26",
            "2026-03-27",
            "2026-03-28",
            "2026-03-29",
        ]
        assert make_due_reports()["generated"] == []  # a second run the same morning: nothing


def test_generating_a_date_again_replaces_its_report(seeded: Any) -> None:
    with time_machine.travel(datetime(2026, 3, 29, 23, 0, tzinfo=UTC), tick=False):
        first = generate_report(day=date(2026, 3, 29))
    with time_machine.travel(MORNING, tick=False):
        again = generate_report(day=date(2026, 3, 29))
    assert again.pk == first.pk
    assert Report.objects.count() == 1
    assert again.generated_at == MORNING
    assert again.data["incidents"]["longest"][0]["seconds"] == 10 * 3600
