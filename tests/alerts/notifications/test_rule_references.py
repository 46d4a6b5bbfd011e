"""Rules reference channels and an escalation policy directly; kinds stay a shorthand."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.db import transaction
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from alerts.bootstrap import seed
from alerts.models import Alert, EscalationPolicy, NotificationChannel, Rule
from alerts.notifications.escalation import escalate_due
from alerts.services import open_alert
from monitoring_site.bootstrap import seed_roles
from tests.alerts.notifications.conftest import rows

pytestmark = pytest.mark.django_db
RULES = "/api/v1/monitoring/alerts/rules"


def fire_rule(rule: Rule) -> Alert:
    """Open an alert of ``rule`` that fires at once, as the engine does."""
    with transaction.atomic():
        alert = open_alert(
            rule=rule,
            source=Alert.Source.RULE,
            labels={"service": "payment"},
            value=250.0,
            now=timezone.now(),
        )
    assert alert is not None and alert.state == Alert.State.FIRING
    return alert


@pytest.fixture
def ops_email(make_channel: Callable[..., NotificationChannel]) -> NotificationChannel:
    """A channel only reachable by reference (it opts out of the kind shorthand)."""
    return make_channel(
        "Payments team email",
        "email",
        {"to": ["payments@tickettoken.example"]},
        for_rule_kinds=False,
    )


@pytest.fixture
def hook(make_channel: Callable[..., NotificationChannel]) -> NotificationChannel:
    return make_channel(
        "Payments webhook", "webhook", {"url": "http://127.0.0.1:9/hook", "secret": "k" * 16}
    )


@pytest.fixture
def people(make_channel: Callable[..., NotificationChannel]) -> dict[str, NotificationChannel]:
    def person(name: str) -> NotificationChannel:
        return make_channel(
            name, "email", {"to": [f"{name}@tickettoken.example"]}, for_rule_kinds=False
        )

    return {name: person(name) for name in ("oncall", "lead", "payments-oncall", "payments-lead")}


@pytest.fixture
def policies(
    make_policy: Callable[..., EscalationPolicy], people: dict[str, NotificationChannel]
) -> dict[str, EscalationPolicy]:
    return {
        "critical": make_policy(
            "Critical", ("On-call", 5, [people["oncall"]]), ("Lead", 15, [people["lead"]])
        ),
        "payments": make_policy(
            "Payments",
            ("Payments on-call", 10, [people["payments-oncall"]]),
            ("Payments lead", 30, [people["payments-lead"]]),
        ),
    }


# Routing ---------------------------------------------------------------------------------------


def test_a_rule_with_an_explicit_channel_notifies_it_even_with_no_kinds(
    make_rule: Callable[..., Rule], ops_email: NotificationChannel, hook: NotificationChannel
) -> None:
    rule = make_rule(channels=[], for_seconds=0)
    rule.notification_channels.set([ops_email])

    fire_rule(rule)

    assert rows() == [("Payments team email", "firing", None)]


def test_a_disabled_referenced_channel_gets_nothing(
    make_rule: Callable[..., Rule], ops_email: NotificationChannel, hook: NotificationChannel
) -> None:
    rule = make_rule(channels=[], for_seconds=0)
    rule.notification_channels.set([ops_email, hook])
    NotificationChannel.objects.filter(pk=ops_email.pk).update(enabled=False)

    fire_rule(rule)

    assert rows() == [("Payments webhook", "firing", None)]


def test_explicit_channels_and_kinds_together_give_one_message_per_channel(
    make_rule: Callable[..., Rule],
    make_channel: Callable[..., NotificationChannel],
    ops_email: NotificationChannel,
    hook: NotificationChannel,
) -> None:
    make_channel("Ops email", "email", {"to": ["ops@tickettoken.example"]})
    rule = make_rule(channels=["webhook", "email"], for_seconds=0)
    rule.notification_channels.set([hook, ops_email])  # hook is also named by its kind

    fire_rule(rule)

    assert sorted(rows()) == [
        ("Ops email", "firing", None),
        ("Payments team email", "firing", None),
        ("Payments webhook", "firing", None),
    ]


def test_the_kind_shorthand_alone_still_reaches_channels_of_that_kind(
    make_rule: Callable[..., Rule], ops_email: NotificationChannel, hook: NotificationChannel
) -> None:
    fire_rule(make_rule(channels=["webhook", "email"], for_seconds=0))

    # ops_email opted out of the shorthand: only a reference reaches it.
    assert rows() == [("Payments webhook", "firing", None)]


def test_a_rules_own_policy_wins_over_the_policy_of_its_severity(
    make_rule: Callable[..., Rule], policies: dict[str, EscalationPolicy], clock: Any
) -> None:
    rule = make_rule(channels=[], severity="critical", for_seconds=0)
    rule.escalation_policy = policies["payments"]
    rule.save()
    start = timezone.now()

    fire_rule(rule)
    assert rows() == [("payments-oncall", "firing", 1)]

    clock.move_to(start + timedelta(minutes=10))
    assert escalate_due() == 1
    assert rows()[1:] == [("payments-lead", "escalated", 2)]


def test_without_its_own_policy_a_rule_follows_the_policy_of_its_severity(
    make_rule: Callable[..., Rule], policies: dict[str, EscalationPolicy]
) -> None:
    fire_rule(make_rule(channels=[], severity="critical", for_seconds=0))

    assert rows() == [("oncall", "firing", 1)]


def test_a_warning_rule_with_its_own_policy_escalates(
    make_rule: Callable[..., Rule], policies: dict[str, EscalationPolicy]
) -> None:
    rule = make_rule(channels=[], severity="warning", for_seconds=0)
    rule.escalation_policy = policies["payments"]
    rule.save()

    fire_rule(rule)

    assert rows() == [("payments-oncall", "firing", 1)]


def test_a_channel_referenced_by_the_rule_and_its_policy_level_gets_one_message(
    make_rule: Callable[..., Rule],
    policies: dict[str, EscalationPolicy],
    people: dict[str, NotificationChannel],
) -> None:
    rule = make_rule(channels=[], for_seconds=0, escalation_policy=policies["payments"])
    rule.notification_channels.set([people["payments-oncall"]])

    fire_rule(rule)

    assert rows() == [("payments-oncall", "firing", 1)]


def test_deleting_a_rules_policy_leaves_the_rule_on_its_severity_policy(
    make_rule: Callable[..., Rule], policies: dict[str, EscalationPolicy]
) -> None:
    rule = make_rule(channels=[], severity="critical", for_seconds=0)
    rule.escalation_policy = policies["payments"]
    rule.save()
    policies["payments"].delete()

    rule.refresh_from_db()
    assert rule.escalation_policy is None
    fire_rule(rule)
    assert rows() == [("oncall", "firing", 1)]


# API -------------------------------------------------------------------------------------------


def rule_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "Payment errors",
        "expression": "max(queue_size)",
        "operator": ">",
        "threshold": 5,
        "for": "5m",
        "severity": "error",
        "channels": [],
    }
    body.update(overrides)
    return body


def test_an_admin_sets_a_rules_channels_and_policy_and_reads_them_back(
    admin_client_api: APIClient,
    ops_email: NotificationChannel,
    hook: NotificationChannel,
    policies: dict[str, EscalationPolicy],
) -> None:
    created = admin_client_api.post(
        RULES,
        rule_body(
            notification_channels=[ops_email.pk, hook.pk],
            escalation_policy=policies["payments"].pk,
        ),
        format="json",
    )
    assert created.status_code == 201, created.json()
    body = created.json()
    assert sorted(body["notification_channels"]) == sorted([ops_email.pk, hook.pk])
    assert body["escalation_policy"] == policies["payments"].pk

    rule = Rule.objects.get(pk=body["id"])
    assert set(rule.notification_channels.values_list("name", flat=True)) == {
        "Payments team email",
        "Payments webhook",
    }
    assert rule.escalation_policy == policies["payments"]

    changed = admin_client_api.patch(
        f"{RULES}/{rule.pk}",
        {"notification_channels": [hook.pk], "escalation_policy": None},
        format="json",
    )
    assert changed.status_code == 200, changed.json()
    read = admin_client_api.get(f"{RULES}/{rule.pk}").json()
    assert (read["notification_channels"], read["escalation_policy"]) == ([hook.pk], None)
    rule.refresh_from_db()
    assert list(rule.notification_channels.all()) == [hook]
    assert rule.escalation_policy is None


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"notification_channels": [999999]}, "notification_channels"),
        ({"notification_channels": ["email"]}, "notification_channels"),
        ({"notification_channels": 5}, "notification_channels"),
        ({"notification_channels": [True]}, "notification_channels"),
        ({"notification_channels": [2**70]}, "notification_channels"),
        ({"escalation_policy": 999999}, "escalation_policy"),
        ({"escalation_policy": "Critical"}, "escalation_policy"),
        ({"escalation_policy": [1]}, "escalation_policy"),
    ],
)
def test_unknown_or_malformed_references_are_refused_naming_the_field(
    admin_client_api: APIClient,
    make_rule: Callable[..., Rule],
    hook: NotificationChannel,
    change: dict[str, Any],
    field: str,
) -> None:
    rule = make_rule(channels=["slack"])
    rule.notification_channels.set([hook])

    response = admin_client_api.patch(f"{RULES}/{rule.pk}", change, format="json")

    assert response.status_code == 400, response.content
    body = response.json()
    assert list(body["details"]) == [field]
    rule.refresh_from_db()
    assert (list(rule.notification_channels.all()), rule.escalation_policy, rule.version) == (
        [hook],
        None,
        1,
    )


def test_a_disabled_channel_cannot_be_referenced(
    admin_client_api: APIClient, hook: NotificationChannel
) -> None:
    NotificationChannel.objects.filter(pk=hook.pk).update(enabled=False)

    response = admin_client_api.post(
        RULES, rule_body(notification_channels=[hook.pk]), format="json"
    )

    assert response.status_code == 400
    assert response.json()["details"]["notification_channels"] == [
        f"No enabled notification channel has id {hook.pk}."
    ]
    assert not Rule.objects.filter(name="Payment errors").exists()


def test_a_viewer_reads_the_references_but_cannot_change_them(
    viewer_client: APIClient,
    operator_client: APIClient,
    make_rule: Callable[..., Rule],
    hook: NotificationChannel,
    policies: dict[str, EscalationPolicy],
) -> None:
    rule = make_rule(channels=[], escalation_policy=policies["critical"])
    rule.notification_channels.set([hook])

    read = viewer_client.get(f"{RULES}/{rule.pk}")
    assert read.status_code == 200
    assert (read.json()["notification_channels"], read.json()["escalation_policy"]) == (
        [hook.pk],
        policies["critical"].pk,
    )
    for client in (viewer_client, operator_client):
        response = client.patch(
            f"{RULES}/{rule.pk}",
            {"notification_channels": [], "escalation_policy": None},
            format="json",
        )
        assert response.status_code == 403
    rule.refresh_from_db()
    assert (list(rule.notification_channels.all()), rule.escalation_policy) == (
        [hook],
        policies["critical"],
    )


# Admin and history -----------------------------------------------------------------------------


def admin_form(**overrides: Any) -> dict[str, Any]:
    data = {
        "name": "Payment errors",
        "slug": "",
        "description": "",
        "enabled": "on",
        "expression": "max(queue_size)",
        "operator": ">",
        "threshold": "5",
        "no_data": "ok",
        "min_volume_expression": "",
        "min_volume": "",
        "for_seconds": "300",
        "keep_firing_for_seconds": "0",
        "cooldown_seconds": "0",
        "severity": "error",
        "labels": "{}",
        "annotations": '{"summary": "errors at {value}"}',
        "channels": "[]",
    }
    data.update(overrides)
    return data


def test_the_admin_rule_form_shows_and_saves_both_references(
    admin: Any,
    ops_email: NotificationChannel,
    hook: NotificationChannel,
    policies: dict[str, EscalationPolicy],
) -> None:
    seed_roles(lambda line: None)
    client = Client()
    client.force_login(admin)
    page = client.get("/admin/alerts/rule/add/").content.decode()
    assert 'name="notification_channels"' in page
    assert 'name="escalation_policy"' in page

    response = client.post(
        "/admin/alerts/rule/add/",
        admin_form(
            notification_channels=[str(ops_email.pk), str(hook.pk)],
            escalation_policy=str(policies["payments"].pk),
        ),
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    rule = Rule.objects.get(name="Payment errors")
    assert set(rule.notification_channels.all()) == {ops_email, hook}
    assert rule.escalation_policy == policies["payments"]


def test_the_history_records_a_change_of_policy_and_of_channels(
    admin: Any,
    ops_email: NotificationChannel,
    hook: NotificationChannel,
    policies: dict[str, EscalationPolicy],
) -> None:
    seed_roles(lambda line: None)
    client = Client()
    client.force_login(admin)
    client.post(
        "/admin/alerts/rule/add/",
        admin_form(
            notification_channels=[str(ops_email.pk)],
            escalation_policy=str(policies["critical"].pk),
        ),
    )
    rule = Rule.objects.get(name="Payment errors")

    response = client.post(
        f"/admin/alerts/rule/{rule.pk}/change/",
        admin_form(
            notification_channels=[str(hook.pk)], escalation_policy=str(policies["payments"].pk)
        ),
    )
    assert response.status_code == 302, response.content.decode()[:2000]

    history = list(rule.history.order_by("history_id"))
    assert [h.escalation_policy_id for h in (history[0], history[-1])] == [
        policies["critical"].pk,
        policies["payments"].pk,
    ]
    assert [h.history_user for h in (history[0], history[-1])] == [admin, admin]
    latest = history[-1]
    assert [row.notificationchannel_id for row in latest.notification_channels.all()] == [hook.pk]
    # The policy change shows in the diff against the version before it.
    before = next(h for h in reversed(history) if h.escalation_policy_id == policies["critical"].pk)
    changed = {change.field for change in latest.diff_against(before).changes}
    assert {"escalation_policy", "notification_channels"} <= changed
    page = client.get(f"/admin/alerts/rule/{rule.pk}/history/").content.decode()
    assert "Payments" in page


def test_bootstrap_keeps_the_kind_shorthand_and_leaves_references_set_by_hand(
    admin_client_api: APIClient,
    hook: NotificationChannel,
    policies: dict[str, EscalationPolicy],
) -> None:
    seed(lambda line: None)
    seeded = Rule.objects.exclude(builtin=True).order_by("pk")
    assert seeded.exists()
    assert all(rule.channels for rule in seeded)
    assert not any(rule.notification_channels.exists() for rule in seeded)
    rule = seeded.first()
    assert rule is not None
    rule.notification_channels.set([hook])
    rule.escalation_policy = policies["payments"]
    rule.save()
    kinds = list(rule.channels)

    seed(lambda line: None)

    rule.refresh_from_db()
    assert (list(rule.notification_channels.all()), rule.escalation_policy, rule.channels) == (
        [hook],
        policies["payments"],
        kinds,
    )


def test_deleting_a_referenced_channel_keeps_the_rule_and_its_history(
    make_rule: Callable[..., Rule], ops_email: NotificationChannel, hook: NotificationChannel
) -> None:
    rule = make_rule(channels=[], for_seconds=0)
    rule.notification_channels.set([ops_email, hook])

    ops_email.delete()

    rule.refresh_from_db()
    assert list(rule.notification_channels.all()) == [hook]
    assert rule.history.count() >= 2
    fire_rule(rule)
    assert rows() == [("Payments webhook", "firing", None)]
