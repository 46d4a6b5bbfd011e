"""An alert's PagerDuty incident follows it through the outbox, in both PagerDuty modes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test.utils import override_settings

from alerts.models import Alert, Notification, NotificationChannel
from alerts.services import acknowledge_alert, resolve_alert
from tests.support.fake_vendors import PagerDutyServer

from .conftest import ROUTING_KEY, drain

pytestmark = pytest.mark.django_db

API_KEY = "u+Pd_REST-ApiKey0123"
SERVICE = "PWIXJZS"
SENDER = "oncall-bot@tickettoken.example"
CONFIGS = {
    "events": {"routing_key": ROUTING_KEY},
    "rest": {"api_key": API_KEY, "service_id": SERVICE, "from": SENDER},
}


@pytest.fixture
def vendor() -> Iterator[PagerDutyServer]:
    """One fake PagerDuty speaking both APIs, and the settings pointing at it."""
    server = PagerDutyServer(api_key=API_KEY, services={SERVICE}, users={SENDER})
    with (
        server,
        override_settings(PAGERDUTY_EVENTS_URL=server.events_url, PAGERDUTY_API_URL=server.url),
    ):
        yield server


def statuses(vendor: PagerDutyServer, mode: str) -> list[str]:
    incidents = vendor.incidents if mode == "events" else vendor.rest_incidents
    return [incident.status for incident in incidents]


@pytest.mark.parametrize("mode", ["events", "rest"])
def test_firing_acknowledging_and_resolving_an_alert_reach_its_one_incident(
    mode: str,
    vendor: PagerDutyServer,
    make_channel: Callable[..., NotificationChannel],
    fire: Callable[..., Alert],
    operator: User,
    clock: Any,
) -> None:
    make_channel("PagerDuty", "pagerduty", CONFIGS[mode])
    alert = fire(channels=["pagerduty"], severity="critical")
    drain(clock)
    assert statuses(vendor, mode) == ["triggered"]

    acknowledge_alert(alert=alert, user=operator)
    drain(clock)
    assert statuses(vendor, mode) == ["acknowledged"]

    clock.shift(600)
    resolve_alert(alert=alert, user=operator)
    drain(clock)
    assert statuses(vendor, mode) == ["resolved"]
    assert list(Notification.objects.order_by("pk").values_list("kind", "state")) == [
        ("firing", "delivered"),
        ("acknowledged", "delivered"),
        ("resolved", "delivered"),
    ]
