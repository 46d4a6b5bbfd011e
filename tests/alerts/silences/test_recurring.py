"""Recurring maintenance windows: every Sunday 02:00-04:00 Europe/London, across both
daylight-saving changes with a moved clock; next occurrences in the API; bad input named."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.utils import timezone
from rest_framework.test import APIClient

from alerts.models import MaintenanceWindow
from alerts.models.silences import NO_END
from alerts.silences.services import active_silences, create_maintenance_window
from health import hooks
from health.models import Service
from health.selectors import health_payload

pytestmark = pytest.mark.django_db
URL = "/api/v1/monitoring/maintenance-windows"
# 2026 in Europe/London: BST starts Sunday 29 March at 01:00 UTC, ends Sunday 25 October at
# 01:00 UTC (02:00 BST becomes 01:00 GMT).
CREATED = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def utc(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


@pytest.fixture
def payment(db: Any) -> Service:
    return Service.objects.create(
        slug="payment", name="Payment", target="http://payment:3004", critical=True, state="up"
    )


@pytest.fixture
def sundays(admin: User, payment: Service) -> MaintenanceWindow:
    with time_machine.travel(CREATED, tick=False):
        return create_maintenance_window(
            name="Sunday patching",
            services=["payment"],
            starts_at=None,
            ends_at=None,
            comment="",
            user=admin,
            recurrence="0 2 * * 0",
            duration_seconds=2 * 3600,
            time_zone="Europe/London",
        )


def in_force_at(moment: datetime) -> list[str]:
    """What the silences and /health see with the clock moved to ``moment``."""
    with time_machine.travel(moment, tick=False):
        now = timezone.now()
        windows = [m.name for m in active_silences(now) if isinstance(m, MaintenanceWindow)]
        facts = [fact["name"] for fact in hooks.facts(hooks.MAINTENANCE_WINDOWS, now)]
        assert windows == facts
        return windows


@pytest.mark.parametrize(
    ("moment", "active"),
    [
        # a winter Sunday (GMT): 02:00-04:00 local is 02:00-04:00 UTC
        (utc(3, 22, 1, 59), False),
        (utc(3, 22, 2, 0), True),
        (utc(3, 22, 3, 59), True),
        (utc(3, 22, 4, 0), False),
        # the spring change (29 March): 02:00 BST is 01:00 UTC, the window 01:00-03:00 UTC
        (utc(3, 29, 0, 59), False),
        (utc(3, 29, 1, 0), True),
        (utc(3, 29, 2, 59), True),
        (utc(3, 29, 3, 0), False),
        # a summer Sunday (BST)
        (utc(10, 18, 0, 59), False),
        (utc(10, 18, 1, 0), True),
        (utc(10, 18, 3, 0), False),
        # the autumn change (25 October): 02:00 comes after the clock went back, 02:00 GMT
        (utc(10, 25, 1, 30), False),
        (utc(10, 25, 2, 0), True),
        (utc(10, 25, 3, 59), True),
        (utc(10, 25, 4, 0), False),
        # not a Sunday
        (utc(10, 21, 2, 30), False),
    ],
)
def test_every_sunday_two_to_four_london_time_across_both_changes(
    sundays: MaintenanceWindow, moment: datetime, active: bool
) -> None:
    assert in_force_at(moment) == (["Sunday patching"] if active else [])


def test_a_start_in_the_skipped_or_repeated_hour_happens_once(
    admin: User, payment: Service
) -> None:
    with time_machine.travel(CREATED, tick=False):
        window = create_maintenance_window(
            name="Nightly",
            services=["payment"],
            starts_at=None,
            ends_at=None,
            comment="",
            user=admin,
            recurrence="30 1 * * *",
            duration_seconds=3600,
            time_zone="Europe/London",
        )
    # 01:30 does not exist on 29 March: read with the offset before the change (02:30 BST).
    spring = window.next_occurrences(utc(3, 28, 12), count=2)
    assert spring == [
        (utc(3, 29, 1, 30), utc(3, 29, 2, 30)),
        (utc(3, 30, 0, 30), utc(3, 30, 1, 30)),
    ]
    # 01:30 happens twice on 25 October: the window opens once, the first time (BST).
    autumn = window.next_occurrences(utc(10, 24, 12), count=2)
    assert autumn == [
        (utc(10, 25, 0, 30), utc(10, 25, 1, 30)),
        (utc(10, 26, 1, 30), utc(10, 26, 2, 30)),
    ]
    assert in_force_at(utc(10, 25, 1, 45)) == []


def test_health_shows_the_service_in_maintenance_only_during_an_occurrence(
    sundays: MaintenanceWindow,
) -> None:
    with time_machine.travel(utc(3, 29, 1, 30), tick=False):
        entry = next(s for s in health_payload(uptime=1.0)["services"] if s["name"] == "payment")
    assert entry["maintenance"] == {"window": "Sunday patching", "until": "2026-03-29T03:00:00Z"}
    with time_machine.travel(utc(3, 30, 1, 30), tick=False):
        entry = next(s for s in health_payload(uptime=1.0)["services"] if s["name"] == "payment")
    assert entry["maintenance"] is None


def test_the_api_lists_a_recurring_window_with_its_next_occurrences(
    client_for: Callable[[User], APIClient], admin: User, payment: Service
) -> None:
    with time_machine.travel(utc(3, 25, 12), tick=False):
        client = client_for(admin)  # a token issued at the moved clock's time
        response = client.post(
            URL,
            {
                "name": "Sunday patching",
                "services": ["payment"],
                "recurrence": "0 2 * * 0",
                "duration": "2h",
                "time_zone": "Europe/London",
            },
            format="json",
        )
        assert response.status_code == 201, response.content
        body = response.json()
        listed = client.get(URL, {"state": "pending"}).json()
    assert body["ends_at"] is None and body["state"] == "pending"
    assert (body["recurrence"], body["duration"], body["time_zone"]) == (
        "0 2 * * 0",
        "2h",
        "Europe/London",
    )
    assert body["next_occurrences"] == [
        {"starts_at": "2026-03-29T01:00:00Z", "ends_at": "2026-03-29T03:00:00Z"},
        {"starts_at": "2026-04-05T01:00:00Z", "ends_at": "2026-04-05T03:00:00Z"},
        {"starts_at": "2026-04-12T01:00:00Z", "ends_at": "2026-04-12T03:00:00Z"},
    ]
    assert [row["id"] for row in listed["results"]] == [body["id"]]
    assert MaintenanceWindow.objects.get().ends_at == NO_END
    with time_machine.travel(utc(3, 29, 1, 30), tick=False):
        active = client_for(admin).get(URL, {"state": "active"}).json()["results"]
    assert [row["next_occurrences"][0]["starts_at"] for row in active] == ["2026-03-29T01:00:00Z"]


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"recurrence": "0 0 30 2 *"}, "recurrence", "never fires"),
        ({"recurrence": "0 2 * * 0 2026"}, "recurrence", "5 fields"),
        ({"recurrence": "61 2 * * 0"}, "recurrence", "Not a valid cron expression"),
        ({"duration": "8d"}, "duration", "at most 7 days"),
        ({"duration": None}, "duration", "Required with a recurrence"),
        ({"time_zone": "Mars/Olympus"}, "time_zone", "Unknown time zone 'Mars/Olympus'"),
        ({"recurrence": "", "duration": "1h"}, "ends_at", "required"),
    ],
)
def test_bad_recurrences_are_400s_naming_the_field(
    client_for: Callable[[User], APIClient],
    admin: User,
    payment: Service,
    changes: dict[str, Any],
    field: str,
    words: str,
) -> None:
    data = {
        "name": "Sunday patching",
        "services": ["payment"],
        "recurrence": "0 2 * * 0",
        "duration": "2h",
        "time_zone": "Europe/London",
        **changes,
    }
    response = client_for(admin).post(URL, data, format="json")
    assert response.status_code == 400, response.content
    details = response.json()["details"]
    assert field in details, details
    assert words in " ".join(details[field])
    assert not MaintenanceWindow.objects.exists()


def test_a_one_off_window_refuses_a_duration(admin: User, payment: Service) -> None:
    with pytest.raises(ValidationError) as caught:
        create_maintenance_window(
            name="once",
            services=["payment"],
            starts_at=None,
            ends_at=timezone.now() + timedelta(hours=1),
            comment="",
            user=admin,
            duration_seconds=600,
        )
    assert "duration_seconds" in caught.value.message_dict
