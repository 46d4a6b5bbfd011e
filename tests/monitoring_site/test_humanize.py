"""Times and durations people read (#11.11): full timestamps, no raw floats, in the admin too."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from monitoring_site.humanize import datetime_text, duration_text
from monitoring_site.models import JobRun

AT = datetime(2026, 11, 30, 17, 4, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.0004, "0.4 ms"),
        (0.85, "850 ms"),
        (0.9995699999763019, "1.0 s"),
        (1, "1.0 s"),
        (12.34, "12.3 s"),
        (59.97, "1 min"),
        (125, "2 min 5 s"),
        (3600, "1 h"),
        (3725, "1 h 2 min"),
        (90061, "1 d 1 h"),
        (-2.5, "-2.5 s"),
        (None, "-"),
        (float("nan"), "-"),
    ],
)
def test_durations_read_as_people_write_them(seconds: float | None, text: str) -> None:
    assert duration_text(seconds=seconds) == text


def test_milliseconds_are_accepted_as_such() -> None:
    assert duration_text(milliseconds=999.57) == "1.0 s"
    assert duration_text(milliseconds=125_000) == "2 min 5 s"


def test_instants_show_date_time_seconds_and_zone(settings: Any) -> None:
    assert datetime_text(AT) == "2026-11-30 17:04:05 UTC"
    settings.TIME_ZONE = "Europe/Paris"
    assert datetime_text(AT) == "2026-11-30 18:04:05 CET"


@pytest.mark.django_db
def test_the_admin_shows_full_timestamps_and_human_durations() -> None:
    run = JobRun.objects.create(
        job="aggregate", started_at=AT, finished_at=AT, duration_ms=999.5699999763019
    )
    client = Client()
    client.force_login(User.objects.create_superuser("root", "", None))

    listing = client.get("/admin/monitoring_site/jobrun/").content.decode()
    page = client.get(f"/admin/monitoring_site/jobrun/{run.pk}/change/").content.decode()

    assert '<td class="field-started_at nowrap">2026-11-30 17:04:05 UTC</td>' in listing
    assert '<td class="field-duration">1.0 s</td>' in listing
    assert "2026-11-30 17:04:05 UTC" in page and "1.0 s" in page
    assert "5 p.m." not in listing + page
    assert "999.5" not in listing + page
