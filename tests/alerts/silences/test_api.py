"""The silence and maintenance window API: roles, every bad input, expiry, states."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.utils import timezone
from rest_framework.test import APIClient

from alerts.models import MaintenanceWindow, Silence
from health.models import Service

pytestmark = pytest.mark.django_db

SILENCES = "/api/v1/monitoring/silences"
WINDOWS = "/api/v1/monitoring/maintenance-windows"


def at(minutes: float) -> str:
    return (timezone.now() + timedelta(minutes=minutes)).isoformat()


class In:
    """A time ``minutes`` from the (moved) clock, resolved when the test runs."""

    def __init__(self, minutes: float) -> None:
        self.minutes = minutes


def resolved(changes: dict[str, Any]) -> dict[str, Any]:
    return {k: at(v.minutes) if isinstance(v, In) else v for k, v in changes.items()}


def body(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "matchers": [{"name": "service", "op": "=", "value": "payment"}],
        "ends_at": at(60),
        "comment": "payment v2 rollout",
    }
    data.update(changes)
    return {key: value for key, value in data.items() if value is not None}


def test_an_operator_creates_a_silence_and_a_viewer_reads_it(
    clock: Any, operator_client: APIClient, viewer_client: APIClient, operator: User
) -> None:
    created = operator_client.post(SILENCES, body(), format="json")

    assert created.status_code == 201
    silence = Silence.objects.get()
    assert created.json() == {
        "id": silence.pk,
        "state": "active",
        "matchers": [{"name": "service", "op": "=", "value": "payment"}],
        "matchers_text": '{service="payment"}',
        "starts_at": "2026-11-02T09:00:30Z",
        "ends_at": "2026-11-02T10:00:30Z",
        "comment": "payment v2 rollout",
        "created_by": "otto-operator",
        "created_at": "2026-11-02T09:00:30Z",
        "expired_at": None,
        "expired_by": None,
    }
    assert silence.created_by == operator
    listed = viewer_client.get(SILENCES + "/")
    assert [row["id"] for row in listed.json()["results"]] == [silence.pk]
    detail = viewer_client.get(f"{SILENCES}/{silence.pk}")
    assert detail.status_code == 200 and detail.json()["comment"] == "payment v2 rollout"


def test_a_viewer_cannot_create_or_expire_and_nobody_cannot_read(
    clock: Any,
    viewer_client: APIClient,
    operator_client: APIClient,
    client_for: Callable[[User], APIClient],
    nobody: User,
    api_client: APIClient,
) -> None:
    denied = viewer_client.post(SILENCES, body(), format="json")
    assert denied.status_code == 403
    assert denied.json()["code"] == "permission_denied"
    assert Silence.objects.count() == 0

    silence_id = operator_client.post(SILENCES, body(), format="json").json()["id"]
    assert viewer_client.post(f"{SILENCES}/{silence_id}/expire").status_code == 403
    assert client_for(nobody).get(SILENCES).status_code == 403
    assert api_client.get(SILENCES).status_code == 401


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"matchers": []}, "matchers", "Expected a non-empty list of matchers."),
        (
            {"matchers": [{"name": "service", "op": "==", "value": "x"}]},
            "matchers",
            "0.op: unknown operator '=='; expected one of =, !=, =~, !~",
        ),
        (
            {"matchers": [{"name": "service", "op": "=~", "value": "pay("}]},
            "matchers",
            "0.value: regex missing ): pay(",
        ),
        (
            {"matchers": [{"name": "service", "op": "=~", "value": ".*"}]},
            "matchers",
            "At least one matcher must not match the empty string.",
        ),
        ({"matchers": "service=payment"}, "matchers", "Expected a non-empty list of matchers."),
        ({"ends_at": None}, "ends_at", "This field is required."),
        ({"ends_at": "tomorrow"}, "ends_at", None),
        ({"ends_at": In(-5)}, "ends_at", "Must be in the future."),
        ({"starts_at": In(30), "ends_at": In(20)}, "ends_at", "Must be after starts_at."),
        (
            {"ends_at": In(31 * 24 * 60)},
            "ends_at",
            "A silence lasts at most 30 days (SILENCE_MAX_DAYS).",
        ),
        ({"comment": None}, "comment", "This field is required."),
        ({"comment": "   "}, "comment", "This field may not be blank."),
    ],
)
def test_bad_input_answers_400_naming_the_field_and_stores_nothing(
    clock: Any, operator_client: APIClient, changes: dict, field: str, message: str | None
) -> None:
    response = operator_client.post(SILENCES, body(**resolved(changes)), format="json")

    assert response.status_code == 400
    answer = response.json()
    assert answer["code"] == "invalid"
    assert list(answer["details"]) == [field]
    assert answer["message"].startswith(f"{field}: ")
    if message is not None:
        assert answer["details"][field] == [message]
    assert Silence.objects.count() == 0


def test_a_start_in_the_past_becomes_now_and_a_future_one_is_pending(
    clock: Any, operator_client: APIClient
) -> None:
    past = operator_client.post(SILENCES, body(starts_at=at(-30)), format="json").json()
    future = operator_client.post(
        SILENCES, body(starts_at=at(30), ends_at=at(90)), format="json"
    ).json()

    assert past["starts_at"] == "2026-11-02T09:00:30Z" and past["state"] == "active"
    assert future["state"] == "pending"


def test_expire_ends_it_now_and_a_second_expire_is_a_conflict(
    clock: Any, operator_client: APIClient, viewer_client: APIClient
) -> None:
    silence_id = operator_client.post(SILENCES, body(), format="json").json()["id"]
    clock.shift(600)

    expired = operator_client.post(f"{SILENCES}/{silence_id}/expire/")

    assert expired.status_code == 200
    assert expired.json()["state"] == "expired"
    assert expired.json()["ends_at"] == "2026-11-02T09:10:30Z"
    assert expired.json()["expired_by"] == "otto-operator"
    again = operator_client.post(f"{SILENCES}/{silence_id}/expire")
    assert again.status_code == 409
    assert again.json()["code"] == "conflict"
    states = viewer_client.get(SILENCES, {"state": "active"}).json()["results"]
    assert states == []
    assert len(viewer_client.get(SILENCES, {"state": "expired"}).json()["results"]) == 1


def test_unknown_ids_and_states_are_404_and_400(
    operator_client: APIClient, viewer_client: APIClient
) -> None:
    assert viewer_client.get(f"{SILENCES}/999").status_code == 404
    assert viewer_client.get(f"{SILENCES}/99999999999999999999999").status_code == 404
    assert operator_client.post(f"{SILENCES}/999/expire").status_code == 404
    bad = viewer_client.get(SILENCES, {"state": "sleeping"})
    assert bad.status_code == 400
    assert bad.json()["details"] == {
        "state": ["Unknown state sleeping; expected pending, active, expired."]
    }


@pytest.fixture
def payment(db: Any) -> Service:
    return Service.objects.create(slug="payment", name="Payment", target="http://payment:3004")


def window_body(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "Payment DB upgrade",
        "services": ["payment"],
        "ends_at": at(120),
        "comment": "CHG-1234",
    }
    data.update(changes)
    return {key: value for key, value in data.items() if value is not None}


def test_maintenance_windows_are_written_by_admins_and_read_by_viewers(
    clock: Any,
    admin_client_api: APIClient,
    operator_client: APIClient,
    viewer_client: APIClient,
    payment: Service,
) -> None:
    assert operator_client.post(WINDOWS, window_body(), format="json").status_code == 403

    created = admin_client_api.post(WINDOWS, window_body(), format="json")

    assert created.status_code == 201
    window = MaintenanceWindow.objects.get()
    assert created.json()["services"] == ["payment"]
    assert created.json()["state"] == "active"
    assert viewer_client.get(f"{WINDOWS}/{window.pk}/").json()["name"] == "Payment DB upgrade"
    assert operator_client.post(f"{WINDOWS}/{window.pk}/expire").status_code == 403
    expired = admin_client_api.post(f"{WINDOWS}/{window.pk}/expire")
    assert expired.status_code == 200 and expired.json()["state"] == "expired"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"services": []}, "services"),
        ({"services": ["payment", "nope"]}, "services"),
        ({"services": ["not a slug"]}, "services"),
        ({"name": None}, "name"),
        ({"ends_at": In(-1)}, "ends_at"),
        ({"starts_at": In(60), "ends_at": In(30)}, "ends_at"),
        ({"ends_at": In(40 * 24 * 60)}, "ends_at"),
    ],
)
def test_bad_maintenance_windows_answer_400_naming_the_field(
    clock: Any, admin_client_api: APIClient, payment: Service, changes: dict, field: str
) -> None:
    response = admin_client_api.post(WINDOWS, window_body(**resolved(changes)), format="json")

    assert response.status_code == 400
    assert list(response.json()["details"]) == [field]
    assert MaintenanceWindow.objects.count() == 0
