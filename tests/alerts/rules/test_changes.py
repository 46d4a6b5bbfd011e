"""One change, two doors: the API and the admin change rules through the same services (#11.3).

Each test makes the same change to two identical rules, one through the API and one through the
admin, and compares what happened to their alerts: states, who resolved them, the events written
and the notifications queued.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.forms.models import model_to_dict
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from alerts.bootstrap import seed
from alerts.engine.lifecycle import apply_evaluation
from alerts.models import Alert, Notification, NotificationChannel, Rule
from tests.alerts.conftest import scalar

pytestmark = pytest.mark.django_db
RULES = "/api/v1/monitoring/alerts/rules"
ADMIN_RULES = "/admin/alerts/rule"
EDITABLE: tuple[str, ...] = (
    "name",
    "slug",
    "description",
    "expression",
    "operator",
    "threshold",
    "no_data",
)
EDITABLE += ("min_volume_expression", "min_volume", "for_seconds", "keep_firing_for_seconds")
EDITABLE += ("cooldown_seconds", "severity")


@pytest.fixture(autouse=True)
def _frozen(clock: Any) -> Any:
    return clock


@pytest.fixture
def doors(admin: User, client_for: Callable[[User], APIClient]) -> tuple[APIClient, Client]:
    web = Client()
    web.force_login(admin)
    return client_for(admin), web


@pytest.fixture
def firing_pair(make_rule: Callable[..., Rule], clock: Any) -> tuple[Rule, Rule]:
    """Two identical rules (but their names), each with a firing alert announced by email."""
    NotificationChannel.objects.create(name="Ops", kind="email", config={"to": ["ops@example.com"]})
    rules = [
        make_rule(name=name, for_seconds=60, channels=["email"])
        for name in ("Through the API", "Through the admin")
    ]
    for _ in range(2):
        for rule in rules:
            apply_evaluation(rule=rule, result=scalar(500), now=timezone.now())
        clock.shift(60)
    assert Alert.objects.filter(state="firing").count() == 2
    return rules[0], rules[1]


def admin_form(rule: Rule, **overrides: Any) -> dict[str, Any]:
    """The admin's change form as a browser would post it, with ``overrides``."""
    import json

    data = {name: value for name, value in model_to_dict(rule, EDITABLE).items()}
    data = {name: "" if value is None else value for name, value in data.items()}
    data.update(
        labels=json.dumps(rule.labels),
        annotations=json.dumps(rule.annotations),
        channels=json.dumps(rule.channels),
    )
    if rule.enabled:
        data["enabled"] = "on"
    data.update(overrides)
    return {name: value for name, value in data.items() if value is not False}


def outcome(rule_name: str) -> dict[str, Any]:
    """What a change did to the alerts of the rule named ``rule_name`` (ids left out)."""
    alerts = Alert.objects.filter(rule_name=rule_name).order_by("pk")
    return {
        "alerts": [(a.state, a.resolved_by_name, a.rule_id is None) for a in alerts],
        "events": [
            (e.kind, e.actor, e.details.get("reason"), e.details.get("notify"))
            for a in alerts
            for e in a.events.order_by("at", "pk")
        ],
        "notifications": sorted(
            Notification.objects.filter(alert__rule_name=rule_name).values_list("kind", flat=True)
        ),
    }


def test_disabling_a_rule_resolves_its_alert_alike_through_the_api_and_the_admin(
    doors: tuple[APIClient, Client], firing_pair: tuple[Rule, Rule]
) -> None:
    api, web = doors
    by_api, by_admin = firing_pair

    response = api.patch(f"{RULES}/{by_api.pk}", {"enabled": False}, format="json")
    page = web.post(f"{ADMIN_RULES}/{by_admin.pk}/change/", admin_form(by_admin, enabled=False))

    assert response.status_code == 200
    assert page.status_code == 302, page.content.decode()[:3000]
    assert outcome(by_admin.name) == outcome(by_api.name)
    assert outcome(by_admin.name)["alerts"] == [("resolved", "ada-admin", False)]
    assert outcome(by_admin.name)["events"][-1] == ("resolved", "ada-admin", "rule disabled", True)
    assert not Rule.objects.get(pk=by_admin.pk).enabled


def test_deleting_a_rule_resolves_its_alert_alike_through_the_api_and_the_admin(
    doors: tuple[APIClient, Client], firing_pair: tuple[Rule, Rule]
) -> None:
    api, web = doors
    by_api, by_admin = firing_pair

    response = api.delete(f"{RULES}/{by_api.pk}")
    page = web.post(f"{ADMIN_RULES}/{by_admin.pk}/delete/", {"post": "yes"})

    assert (response.status_code, page.status_code) == (204, 302)
    assert outcome(by_admin.name) == outcome(by_api.name)
    assert outcome(by_admin.name)["alerts"] == [("resolved", "ada-admin", True)]
    assert outcome(by_admin.name)["events"][-1] == ("resolved", "ada-admin", "rule deleted", True)
    assert not Rule.objects.filter(pk__in=[by_api.pk, by_admin.pk]).exists()


def test_deleting_rules_in_bulk_in_the_admin_resolves_their_alerts(
    doors: tuple[APIClient, Client], firing_pair: tuple[Rule, Rule]
) -> None:
    _api, web = doors

    page = web.post(
        f"{ADMIN_RULES}/",
        {
            "action": "delete_selected",
            "_selected_action": [r.pk for r in firing_pair],
            "post": "yes",
        },
    )

    assert page.status_code == 302
    assert not Rule.objects.exists()
    resolved = Alert.objects.values_list("state", "resolved_by_name")
    assert sorted(resolved) == [("resolved", "ada-admin")] * 2


def test_an_edit_that_keeps_the_rule_enabled_leaves_its_alert_open_through_either_door(
    doors: tuple[APIClient, Client], firing_pair: tuple[Rule, Rule]
) -> None:
    api, web = doors
    by_api, by_admin = firing_pair

    api.patch(f"{RULES}/{by_api.pk}", {"threshold": 400}, format="json")
    web.post(f"{ADMIN_RULES}/{by_admin.pk}/change/", admin_form(by_admin, threshold=400))

    assert outcome(by_admin.name) == outcome(by_api.name)
    assert outcome(by_admin.name)["alerts"] == [("firing", "", False)]
    assert [r.threshold for r in Rule.objects.order_by("pk")] == [400.0, 400.0]


def test_the_builtin_rule_offers_no_delete_in_the_admin(doors: tuple[APIClient, Client]) -> None:
    _api, web = doors
    seed(lambda line: None)
    builtin = Rule.objects.get(slug="service_down")

    assert web.get(f"{ADMIN_RULES}/{builtin.pk}/delete/").status_code == 403
    assert web.post(f"{ADMIN_RULES}/{builtin.pk}/delete/", {"post": "yes"}).status_code == 403
    assert Rule.objects.filter(pk=builtin.pk).exists()


@pytest.mark.parametrize("change", ["disabled", "deleted"])
def test_an_evaluation_begun_before_the_rule_was_disabled_or_deleted_opens_nothing(
    admin: User, make_rule: Callable[..., Rule], change: str
) -> None:
    from alerts.rules.services import delete_rule, update_rule

    rule = make_rule(name="Racing", for_seconds=60)
    as_the_cycle_read_it = Rule.objects.get(pk=rule.pk)  # enabled, evaluated, not yet applied
    if change == "disabled":
        update_rule(rule=rule, changes={"enabled": False}, user=admin)
    else:
        delete_rule(rule=rule, user=admin)

    apply_evaluation(rule=as_the_cycle_read_it, result=scalar(500), now=timezone.now())

    assert list(Alert.objects.filter(state__in=Alert.OPEN_STATES)) == []
