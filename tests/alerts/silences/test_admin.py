"""The silence console: readable matchers, the state filter, "expire now", creation checks."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone
from django.utils.html import escape

from alerts.models import Silence

pytestmark = pytest.mark.django_db

PAGE = "/admin/alerts/silence/"


@pytest.fixture
def console(clock: Any) -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw-123456789"))
    return client


def test_the_list_shows_matchers_readably_and_filters_by_state(
    console: Client, silence: Callable[..., Silence], clock: Any
) -> None:
    active = silence(("service", "=", "payment"), ("alertname", "=~", "High.*"))
    ended = silence(("service", "=", "order"), minutes=5)
    clock.shift(600)

    everything = console.get(PAGE)
    only_active = console.get(PAGE, {"state": "active"})
    only_expired = console.get(PAGE, {"state": "expired"})

    assert everything.status_code == 200
    assert escape('{service="payment", alertname=~"High.*"}') in everything.content.decode()
    assert [row.pk for row in only_active.context["cl"].result_list] == [active.pk]
    assert [row.pk for row in only_expired.context["cl"].result_list] == [ended.pk]


def test_expire_now_ends_the_selected_silences_through_the_service(
    console: Client, silence: Callable[..., Silence], clock: Any
) -> None:
    first = silence(("service", "=", "payment"))
    second = silence(("service", "=", "order"), minutes=5)
    clock.shift(600)  # the second has ended by itself

    response = console.post(
        PAGE, {"action": "expire_now", "_selected_action": [first.pk, second.pk]}, follow=True
    )

    assert response.status_code == 200
    assert "1 expired; 1 had already ended." in response.content.decode()
    first.refresh_from_db()
    assert first.ends_at == timezone.now()
    assert first.expired_by is not None
    assert first.expired_by.username == "root"
    assert first.history.first().history_change_reason == "expired by root"


def test_a_silence_made_in_the_admin_is_checked_and_credited_to_its_author(
    console: Client, clock: Any
) -> None:
    now = timezone.now()
    form = {
        "starts_at_0": now.strftime("%Y-%m-%d"),
        "starts_at_1": now.strftime("%H:%M:%S"),
        "ends_at_0": (now + timedelta(hours=1)).strftime("%Y-%m-%d"),
        "ends_at_1": (now + timedelta(hours=1)).strftime("%H:%M:%S"),
        "comment": "rolling restart",
    }

    back_reference = '[{"name": "service", "op": "=~", "value": "(a)\\\\1"}]'
    refused = console.post(PAGE + "add/", {**form, "matchers": back_reference})
    accepted = console.post(
        PAGE + "add/", {**form, "matchers": '[{"name": "service", "value": "payment"}]'}
    )

    assert refused.status_code == 200
    assert refused.context["adminform"].form.errors["matchers"] == [
        "0.value: regex back-references are not supported (RE2 syntax) at character 4"
    ]
    assert accepted.status_code == 302
    silence = Silence.objects.get()
    assert silence.matchers == [{"name": "service", "value": "payment", "op": "="}]
    assert silence.created_by is not None
    assert silence.created_by.username == "root"


def _times(start: Any, end: Any) -> dict[str, str]:
    return {
        "starts_at_0": start.strftime("%Y-%m-%d"),
        "starts_at_1": start.strftime("%H:%M:%S"),
        "ends_at_0": end.strftime("%Y-%m-%d"),
        "ends_at_1": end.strftime("%H:%M:%S"),
    }


def test_the_admin_refuses_a_silence_the_api_refuses(console: Client, clock: Any) -> None:
    now = timezone.now()
    ended = console.post(
        PAGE + "add/",
        {
            **_times(now - timedelta(hours=2), now - timedelta(hours=1)),
            "comment": "too late",
            "matchers": '[{"name": "service", "value": "payment"}]',
        },
    )

    assert ended.status_code == 200
    assert ended.context["adminform"].form.errors["ends_at"] == ["Must be in the future."]
    assert not Silence.objects.exists()


def test_a_maintenance_window_in_the_admin_names_registered_services_only(
    console: Client, clock: Any
) -> None:
    from alerts.models import MaintenanceWindow

    now = timezone.now()
    response = console.post(
        "/admin/alerts/maintenancewindow/add/",
        {
            **_times(now, now + timedelta(hours=1)),
            "name": "DB upgrade",
            "services": '["no-such-service"]',
            "comment": "upgrade",
        },
    )

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert errors["services"] == ["Unknown service(s): no-such-service."]
    assert not MaintenanceWindow.objects.exists()


def test_a_recurring_window_made_in_the_admin_lists_its_next_occurrences(
    console: Client, clock: Any
) -> None:
    from alerts.models import MaintenanceWindow
    from alerts.models.silences import NO_END
    from health.models import Service

    Service.objects.create(slug="payment", name="Payment", target="http://payment:3004")
    now = timezone.now()  # Monday 2 November 2026, 09:00 UTC (GMT)
    response = console.post(
        "/admin/alerts/maintenancewindow/add/",
        {
            "starts_at_0": now.strftime("%Y-%m-%d"),
            "starts_at_1": now.strftime("%H:%M:%S"),
            "name": "Sunday patching",
            "services": '["payment"]',
            "recurrence": "0 2 * * 0",
            "duration_seconds": "7200",
            "time_zone": "Europe/London",
            "comment": "",
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    window = MaintenanceWindow.objects.get()
    assert window.ends_at == NO_END
    page = console.get("/admin/alerts/maintenancewindow/").content.decode()
    assert "0 2 * * 0 (Europe/London) for 2h" in page
    assert "Sun 2026-11-08 02:00-04:00 GMT" in page


def test_the_admin_refuses_a_recurrence_that_never_fires(console: Client, clock: Any) -> None:
    from health.models import Service

    Service.objects.create(slug="payment", name="Payment", target="http://payment:3004")
    now = timezone.now()
    response = console.post(
        "/admin/alerts/maintenancewindow/add/",
        {
            "starts_at_0": now.strftime("%Y-%m-%d"),
            "starts_at_1": now.strftime("%H:%M:%S"),
            "name": "Never",
            "services": '["payment"]',
            "recurrence": "0 0 30 2 *",
            "duration_seconds": "7200",
            "time_zone": "Nowhere/City",
        },
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "never fires" in errors["recurrence"][0]
    assert "Unknown time zone" in errors["time_zone"][0]
