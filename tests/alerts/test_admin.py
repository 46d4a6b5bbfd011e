"""The alert engine in the admin: rule form checks, current values, history, alert actions."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from alerts.engine.lifecycle import apply_evaluation
from alerts.models import Alert, Rule
from monitoring_site.bootstrap import seed_roles
from tests.alerts.conftest import T0, scalar
from tests.alerts.metric_rows import Store, minutes_between

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _roles(db: Any) -> None:
    seed_roles(lambda line: None)


def logged_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def form_data(**overrides: Any) -> dict[str, Any]:
    data = {
        "name": "Mint queue",
        "slug": "",
        "description": "",
        "enabled": "on",
        "expression": "max(queue_size)",
        "operator": ">",
        "threshold": "1000",
        "no_data": "ok",
        "min_volume_expression": "",
        "min_volume": "",
        "for_seconds": "120",
        "keep_firing_for_seconds": "0",
        "cooldown_seconds": "600",
        "severity": "warning",
        "labels": "{}",
        "annotations": '{"summary": "queue at {value}"}',
        "channels": '["slack"]',
    }
    data.update(overrides)
    return data


def test_an_admin_adds_a_rule_in_the_admin_and_its_history_records_it(admin: Any) -> None:
    client = logged_in(admin)
    response = client.post("/admin/alerts/rule/add/", form_data())
    assert response.status_code == 302, response.content.decode()[:2000]
    rule = Rule.objects.get(name="Mint queue")
    assert (rule.slug, rule.channels, rule.cooldown_seconds) == ("mint-queue", ["slack"], 600)
    response = client.post(f"/admin/alerts/rule/{rule.pk}/change/", form_data(threshold="2000"))
    assert response.status_code == 302
    history = client.get(f"/admin/alerts/rule/{rule.pk}/history/")
    assert history.status_code == 200
    page = history.content.decode()
    assert "ada-admin" in page
    assert "Threshold" in page or "threshold" in page
    assert list(rule.history.values_list("threshold", flat=True).order_by("history_id")) == [
        1000.0,
        2000.0,
    ]


def test_the_rule_form_shows_the_expression_error_with_its_position(admin: Any) -> None:
    response = logged_in(admin).post(
        "/admin/alerts/rule/add/",
        form_data(expression="max(queue_size", annotations='{"summary": "{nope}"}'),
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "line 1, column" in errors["expression"][0]
    assert "{nope}" in errors["annotations"][0]
    assert not Rule.objects.exists()


def test_the_rule_form_takes_a_for_shorter_than_the_evaluation_interval(admin: Any) -> None:
    # Issue #19: the evaluator evaluates at the instant a for ends, whatever the interval.
    response = logged_in(admin).post("/admin/alerts/rule/add/", form_data(for_seconds="7"))
    assert response.status_code == 302
    assert Rule.objects.get().for_seconds == 7


def test_the_rule_form_refuses_a_negative_for(admin: Any) -> None:
    response = logged_in(admin).post("/admin/alerts/rule/add/", form_data(for_seconds="-1"))
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["for_seconds"]
    assert not Rule.objects.exists()


def test_the_rule_list_shows_each_rules_current_value(
    admin: Any, make_rule: Callable[..., Rule], clock: Any
) -> None:
    store = Store()
    store.gauge(
        "queue_size",
        {"service": "queue", "queue": "mint"},
        minutes_between(T0 - timedelta(minutes=3), T0),
        1234,
    )
    store.save()
    make_rule(name="Queue", expression="max(queue_size)")
    make_rule(name="Users", expression="sum(active_users)")
    response = logged_in(admin).get("/admin/alerts/rule/")
    assert response.status_code == 200
    page = response.content.decode()
    assert '<td class="field-current_value">1234</td>' in page
    assert '<td class="field-current_value">no data</td>' in page


@pytest.fixture
def alerts(make_rule: Callable[..., Rule], clock: Any, a_channel: Any) -> dict[str, Alert]:
    firing_rule = make_rule(name="Firing", for_seconds=0)
    pending_rule = make_rule(name="Pending", for_seconds=600)
    apply_evaluation(rule=firing_rule, result=scalar(500), now=timezone.now())
    apply_evaluation(rule=pending_rule, result=scalar(500), now=timezone.now())
    return {alert.rule_name.lower(): alert for alert in Alert.objects.all()}


def test_an_operator_acknowledges_firing_alerts_with_the_admin_action(
    operator: Any, alerts: dict[str, Alert]
) -> None:
    client = logged_in(operator)
    response = client.post(
        "/admin/alerts/alert/",
        {
            "action": "acknowledge",
            "_selected_action": [alerts["firing"].pk, alerts["pending"].pk],
        },
        follow=True,
    )
    assert response.status_code == 200
    notes = [str(message) for message in response.context["messages"]]
    assert notes == [
        "1 alert(s) acknowledged.",
        f"Not acknowledged: #{alerts['pending'].pk} (pending).",
    ]
    firing = Alert.objects.get(pk=alerts["firing"].pk)
    assert (firing.state, firing.acknowledged_by) == ("acknowledged", operator)
    assert Alert.objects.get(pk=alerts["pending"].pk).state == "pending"


def test_an_operator_resolves_alerts_with_the_admin_action(
    operator: Any, alerts: dict[str, Alert]
) -> None:
    response = logged_in(operator).post(
        "/admin/alerts/alert/",
        {"action": "resolve", "_selected_action": [alerts["pending"].pk]},
        follow=True,
    )
    assert response.status_code == 200
    alert = Alert.objects.get(pk=alerts["pending"].pk)
    assert (alert.state, alert.resolved_by_name) == ("resolved", "otto-operator")


def test_alerts_are_read_only_and_show_their_event_timeline(
    operator: Any, alerts: dict[str, Alert]
) -> None:
    client = logged_in(operator)
    page = client.get(f"/admin/alerts/alert/{alerts['firing'].pk}/change/")
    assert page.status_code == 200
    inline = page.context["inline_admin_formsets"][0]
    kinds = [form.original.kind for form in inline]
    assert kinds == ["pending", "firing"]
    assert client.post(f"/admin/alerts/alert/{alerts['firing'].pk}/delete/").status_code == 403


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("state__exact=firing", ["Firing"]),
        ("severity__exact=info", []),
        ("source__exact=rule", None),
    ],
)
def test_the_alert_list_filters_by_state_severity_and_source(
    operator: Any, alerts: dict[str, Alert], query: str, expected: list[str] | None
) -> None:
    response = logged_in(operator).get(f"/admin/alerts/alert/?{query}")
    assert response.status_code == 200
    names = sorted(alert.rule_name for alert in response.context["cl"].result_list)
    assert names == (expected if expected is not None else ["Firing", "Pending"])


def test_operators_may_not_edit_rules(operator: Any, make_rule: Callable[..., Rule]) -> None:
    rule = make_rule()
    client = logged_in(operator)
    assert client.get(f"/admin/alerts/rule/{rule.pk}/change/").status_code == 200  # view only
    response = client.post(f"/admin/alerts/rule/{rule.pk}/change/", form_data(threshold="1"))
    assert response.status_code == 403
    assert Rule.objects.get(pk=rule.pk).threshold == 100.0
