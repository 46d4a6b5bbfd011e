"""Bootstrap seeds the PagerDuty channel from either the routing key or the original's API key."""

from __future__ import annotations

from typing import Any

import pytest
from django.test.utils import override_settings

from alerts.bootstrap.notifications import seed
from alerts.models import NotificationChannel

pytestmark = pytest.mark.django_db

ROUTING_KEY = "R0UT1NGKEY0123456789abcdefABCDEF"
NONE = {
    "ALERT_TO_EMAIL": [],
    "SLACK_WEBHOOK_URL": "",
    "SLACK_TOKEN": "",
    "ONCALL_EMAIL": [],
    "TEAM_LEAD_EMAIL": [],
    "ENG_MANAGER_EMAIL": [],
    "PAGERDUTY_ROUTING_KEY": "",
    "PAGERDUTY_API_KEY": "",
    "PAGERDUTY_SERVICE_ID": "",
    "PAGERDUTY_FROM": "",
}
REST = {
    "PAGERDUTY_API_KEY": "u+Pd_REST-ApiKey0123",
    "PAGERDUTY_SERVICE_ID": "PWIXJZS",
    "PAGERDUTY_FROM": "oncall-bot@tickettoken.example",
}


def seeded(**env: Any) -> tuple[list[tuple[str, dict[str, Any]]], str]:
    log: list[str] = []
    with override_settings(**{**NONE, **env}):
        seed(log.append)
    channels = list(
        NotificationChannel.objects.filter(kind="pagerduty").values_list("name", "config")
    )
    return channels, log[0]


def test_the_originals_api_key_service_and_from_seed_a_rest_api_channel() -> None:
    channels, log = seeded(**REST)

    assert channels == [
        (
            "PagerDuty",
            {
                "api_key": REST["PAGERDUTY_API_KEY"],
                "service_id": "PWIXJZS",
                "from": "oncall-bot@tickettoken.example",
            },
        )
    ]
    assert log.startswith("notification channels: 1 created (PagerDuty)")
    assert REST["PAGERDUTY_API_KEY"] not in log


def test_a_routing_key_is_preferred_when_both_are_set() -> None:
    channels, _ = seeded(PAGERDUTY_ROUTING_KEY=ROUTING_KEY, **REST)

    assert channels == [("PagerDuty", {"routing_key": ROUTING_KEY})]


def test_an_api_key_without_a_from_address_says_which_setting_is_missing() -> None:
    channels, log = seeded(**{**REST, "PAGERDUTY_FROM": ""})

    assert channels == []
    assert "not created: PagerDuty (the REST API v2 needs PAGERDUTY_FROM too)" in log
    assert REST["PAGERDUTY_API_KEY"] not in log


def test_a_malformed_service_id_is_reported_without_the_key() -> None:
    channels, log = seeded(**{**REST, "PAGERDUTY_SERVICE_ID": "not an id"})

    assert channels == []
    assert "not created: PagerDuty (invalid configuration: config)" in log
    assert REST["PAGERDUTY_API_KEY"] not in log
