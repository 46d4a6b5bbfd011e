"""POST /api/alerts/test: a synthetic alert through the whole pipeline (admin only)."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from alerts.models import Alert, Notification, NotificationChannel
from alerts.notifications.dispatch import dispatch_due
from tests.support.fake_vendors import WebhookReceiver

pytestmark = pytest.mark.django_db


def test_an_admin_fires_a_test_alert_that_reaches_every_enabled_channel(
    admin_client_api: APIClient,
    webhook: NotificationChannel,
    webhook_receiver: WebhookReceiver,
    email: NotificationChannel,
) -> None:
    NotificationChannel.objects.create(
        name="Old", kind="email", config={"to": ["x@y.z"]}, enabled=False
    )

    response = admin_client_api.post("/api/alerts/test", {}, format="json")

    assert response.status_code == 202
    body = response.json()
    alert = Alert.objects.get(pk=body["alert"])
    assert (alert.source, alert.state, alert.labels["requested_by"]) == (
        "self",
        "resolved",
        "ada-admin",
    )
    assert [(n["channel"], n["kind"], n["state"]) for n in body["notifications"]] == [
        ("Ops webhook", "test", "queued"),
        ("Email", "test", "queued"),
    ]
    assert list(alert.events.values_list("kind", flat=True)) == ["firing", "resolved"]

    assert dispatch_due(wait=False) == 2
    assert set(Notification.objects.values_list("state", flat=True)) == {"delivered"}
    [document] = webhook_receiver.bodies
    assert document["alerts"][0]["annotations"]["event"] == "test"


def test_a_test_alert_can_name_its_channels(
    admin_client_api: APIClient, webhook: NotificationChannel, email: NotificationChannel
) -> None:
    response = admin_client_api.post("/api/alerts/test", {"channels": ["Email"]}, format="json")

    assert response.status_code == 202
    assert [n["channel"] for n in response.json()["notifications"]] == ["Email"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"channels": ["Nope"]}, "Unknown channel(s): Nope."),
        ({"channels": "Email"}, 'Expected a list of items but got type "str".'),
        ({"channels": ["Paused"]}, "Disabled channel(s): Paused."),
    ],
)
def test_bad_channel_names_answer_400_naming_the_field(
    admin_client_api: APIClient, email: NotificationChannel, body: dict, message: str
) -> None:
    NotificationChannel.objects.create(
        name="Paused", kind="email", config={"to": ["p@q.r"]}, enabled=False
    )

    response = admin_client_api.post("/api/alerts/test", body, format="json")

    assert response.status_code == 400
    assert response.json()["details"]["channels"] == [message]
    assert Alert.objects.count() == 0


def test_without_any_enabled_channel_the_test_answers_400(admin_client_api: APIClient) -> None:
    response = admin_client_api.post("/api/alerts/test", {}, format="json")

    assert response.status_code == 400
    assert "No enabled notification channel" in response.json()["details"]["channels"][0]
    assert Alert.objects.count() == 0


@pytest.mark.parametrize(("role", "status"), [("operator", 403), ("viewer", 403), ("nobody", 403)])
def test_only_admins_may_fire_a_test_alert(
    request: pytest.FixtureRequest,
    client_for: Any,
    email: NotificationChannel,
    role: str,
    status: int,
) -> None:
    client = client_for(request.getfixturevalue(role))

    response = client.post("/api/alerts/test", {}, format="json")

    assert response.status_code == status
    assert response.json()["code"] == "permission_denied"
    assert Alert.objects.count() == 0


def test_anonymous_callers_are_asked_to_authenticate(email: NotificationChannel) -> None:
    response = APIClient().post("/api/alerts/test", {}, format="json")

    assert response.status_code == 401
    assert Alert.objects.count() == 0
