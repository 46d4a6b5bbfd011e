"""Bootstrap: channels from the environment, the Critical and Error policies, no overwrite."""

from __future__ import annotations

from typing import Any

import pytest
from django.test.utils import override_settings

from alerts.bootstrap.notifications import seed
from alerts.models import EscalationPolicy, NotificationChannel

pytestmark = pytest.mark.django_db

ENV = {
    "ALERT_TO_EMAIL": ["ops@tickettoken.example"],
    "SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T0/B0/secretpart",
    "SLACK_TOKEN": "",
    "PAGERDUTY_ROUTING_KEY": "R0UT1NGKEY0123456789abcdefABCDEF",
    "ONCALL_EMAIL": ["oncall@tickettoken.example"],
    "TEAM_LEAD_EMAIL": ["lead@tickettoken.example"],
    "ENG_MANAGER_EMAIL": ["manager@tickettoken.example"],
    "ALLOW_HTTP_WEBHOOKS": False,
    "WEBHOOK_ALLOW_PRIVATE": False,
}


def levels(name: str) -> list[tuple[int, str, int, list[str]]]:
    policy = EscalationPolicy.objects.get(name=name)
    return [
        (level.position, level.name, level.wait_minutes, [c.name for c in level.channels.all()])
        for level in policy.ordered_levels()
    ]


def test_bootstrap_creates_the_channels_the_environment_configures_and_both_policies() -> None:
    log: list[str] = []
    with override_settings(**ENV):
        seed(log.append)

    assert list(
        NotificationChannel.objects.values_list("name", "kind", "for_rule_kinds", "config")
    ) == [
        ("Email", "email", True, {"to": ["ops@tickettoken.example"]}),
        ("Engineering manager email", "email", False, {"to": ["manager@tickettoken.example"]}),
        ("On-call engineer email", "email", False, {"to": ["oncall@tickettoken.example"]}),
        ("PagerDuty", "pagerduty", True, {"routing_key": ENV["PAGERDUTY_ROUTING_KEY"]}),
        ("Slack", "slack", True, {"webhook_url": ENV["SLACK_WEBHOOK_URL"]}),
        ("Team lead email", "email", False, {"to": ["lead@tickettoken.example"]}),
    ]
    assert levels("Critical") == [
        (1, "On-call engineer", 5, ["On-call engineer email"]),
        (2, "Team lead", 15, ["Team lead email"]),
        (3, "Engineering manager", 30, ["Engineering manager email"]),
    ]
    assert levels("Error") == [
        (1, "On-call engineer", 15, ["On-call engineer email"]),
        (2, "Team lead", 60, ["Team lead email"]),
    ]
    assert log == [
        "notification channels: 6 created (Email, Slack, PagerDuty, On-call engineer email, "
        "Team lead email, Engineering manager email); escalation policies: 2 created"
    ]
    assert "secretpart" not in log[0]


def test_without_role_emails_every_level_reaches_the_default_email_channel() -> None:
    env = {**ENV, "ONCALL_EMAIL": [], "TEAM_LEAD_EMAIL": [], "ENG_MANAGER_EMAIL": []}
    with override_settings(**env):
        seed(lambda line: None)

    assert [channels for *_, channels in levels("Critical")] == [["Email"]] * 3


def test_a_bad_value_is_reported_by_setting_name_without_its_value() -> None:
    log: list[str] = []
    env = {**ENV, "SLACK_WEBHOOK_URL": "http://hooks.example.com/services/secretpart"}
    with override_settings(**env):
        seed(log.append)

    assert not NotificationChannel.objects.filter(name="Slack").exists()
    assert "not created: Slack (invalid configuration: config)" in log[0]
    assert "secretpart" not in log[0]


def test_bootstrap_never_overwrites_edits_nor_brings_back_deletions(db: Any) -> None:
    with override_settings(**ENV):
        seed(lambda line: None)
        NotificationChannel.objects.filter(name="Email").update(config={"to": ["new@x.example"]})
        NotificationChannel.objects.filter(name="Slack").delete()
        policy = EscalationPolicy.objects.get(name="Error")
        policy.levels.filter(position=2).update(wait_minutes=90)
        log: list[str] = []
        seed(log.append)

    assert NotificationChannel.objects.get(name="Email").config == {"to": ["new@x.example"]}
    assert not NotificationChannel.objects.filter(name="Slack").exists()
    assert levels("Error")[1][2] == 90
    assert log == ["notification channels: 0 created; escalation policies: 0 created"]


def test_bootstrap_records_who_changed_channels_in_the_history() -> None:
    with override_settings(**ENV):
        seed(lambda line: None)

    record = NotificationChannel.history.get(name="Email")
    assert (record.history_type, record.history_change_reason) == ("+", "seeded by bootstrap")
