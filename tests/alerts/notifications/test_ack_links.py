"""The acknowledge link: GET confirms only, POST acknowledges once; bad links change nothing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from alerts.models import Alert, AlertEvent, Notification, NotificationChannel
from alerts.notifications import links
from alerts.services import resolve_alert
from tests.alerts.notifications.conftest import SITE

pytestmark = pytest.mark.django_db


@pytest.fixture
def firing(fire: Callable[..., Alert], email: NotificationChannel, clock: Any) -> Alert:
    return fire(channels=["email"])


def link_path(alert: Alert) -> str:
    url = Notification.objects.get(alert=alert, kind="firing").payload["ack_url"]
    assert url.startswith(f"{SITE}/alerts/ack/")
    return url.removeprefix(SITE)


def test_opening_the_link_shows_a_confirmation_and_changes_nothing(
    firing: Alert, client: Client
) -> None:
    response = client.get(link_path(firing))

    assert response.status_code == 200
    page = response.content.decode()
    assert "Acknowledge this alert?" in page
    assert f"#{firing.pk}" in page and 'method="post"' in page
    assert response["Cache-Control"] == "no-store"
    firing.refresh_from_db()
    assert firing.state == "firing"
    assert not firing.events.filter(kind="acknowledged").exists()


def test_posting_the_confirmation_acknowledges_as_the_links_channel(
    firing: Alert, client: Client
) -> None:
    response = client.post(link_path(firing))

    assert response.status_code == 200
    assert "Alert acknowledged" in response.content.decode()
    firing.refresh_from_db()
    assert (firing.state, firing.acknowledged_by_name, firing.acknowledged_at) == (
        "acknowledged",
        "Email (acknowledge link)",
        timezone.now(),
    )
    event = firing.events.get(kind="acknowledged")
    assert (event.actor, event.user) == ("Email (acknowledge link)", None)


def test_a_used_link_shows_a_clear_page_and_changes_nothing(
    firing: Alert, client: Client, clock: Any
) -> None:
    path = link_path(firing)
    client.post(path)
    clock.shift(60)

    for response in (client.get(path), client.post(path)):
        assert response.status_code == 410
        assert "already been used" in response.content.decode()
    assert firing.events.filter(kind="acknowledged").count() == 1


def test_an_expired_link_shows_a_clear_page_and_changes_nothing(
    firing: Alert, client: Client, clock: Any
) -> None:
    path = link_path(firing)
    clock.shift(timedelta(hours=24, seconds=1))

    response = client.post(path)

    assert response.status_code == 410
    assert "expired" in response.content.decode()
    firing.refresh_from_db()
    assert firing.state == "firing"


def test_a_link_still_works_just_before_it_expires(
    firing: Alert, client: Client, clock: Any
) -> None:
    path = link_path(firing)
    clock.shift(timedelta(hours=23, minutes=59))

    assert client.post(path).status_code == 200


@pytest.mark.parametrize(
    "mangle",
    [
        lambda token: token[:-2] + ("AA" if not token.endswith("AA") else "BB"),
        lambda token: "not-a-token",
        lambda token: token.split(":")[0] + ":x:y",
    ],
    ids=["signature", "garbage", "fields"],
)
def test_a_tampered_link_shows_a_clear_page_and_changes_nothing(
    firing: Alert, client: Client, mangle: Callable[[str], str]
) -> None:
    token = link_path(firing).split("/")[3]

    response = client.post(f"/alerts/ack/{mangle(token)}/")

    assert response.status_code == 400
    assert "not valid" in response.content.decode()
    firing.refresh_from_db()
    assert firing.state == "firing"


def test_a_link_signed_for_another_alert_does_not_acknowledge_this_one(
    firing: Alert, fire: Callable[..., Alert], client: Client
) -> None:
    other = fire(channels=["email"], labels={"service": "order"})
    mine = Notification.objects.get(alert=firing, kind="firing")
    forged = links.make_token(
        alert_id=other.pk, channel_id=mine.channel_id, notification_id=mine.pk
    )

    response = client.post(f"/alerts/ack/{forged}/")

    assert response.status_code == 404
    assert Alert.objects.filter(state="acknowledged").count() == 0


def test_a_link_to_a_resolved_alert_says_so_and_changes_nothing(
    firing: Alert, client: Client
) -> None:
    resolve_alert(alert=firing, actor="engine")

    response = client.post(link_path(firing))

    assert response.status_code == 409
    assert "It was resolved" in response.content.decode()
    assert not AlertEvent.objects.filter(alert=firing, kind="acknowledged").exists()
    assert Notification.objects.get(alert=firing, kind="firing").ack_used_at is None


def test_links_go_out_in_email_and_slack_messages_but_not_in_resolved_ones(
    fire: Callable[..., Alert],
    email: NotificationChannel,
    slack: NotificationChannel,
    clock: Any,
) -> None:
    alert = fire(channels=["email", "slack"])
    resolve_alert(alert=alert, actor="engine")

    by_kind = {
        (row.channel.kind, row.kind): row.payload["ack_url"]
        for row in Notification.objects.select_related("channel")
    }
    assert by_kind[("email", "firing")] != by_kind[("slack", "firing")]
    assert by_kind[("email", "resolved")] is None and by_kind[("slack", "resolved")] is None
