"""The rule endpoints: viewers read, admins write, every field checked, history kept, preview."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from alerts.bootstrap import seed
from alerts.engine.lifecycle import apply_evaluation
from alerts.models import Alert, Rule
from tests.alerts.conftest import T0, scalar
from tests.alerts.metric_rows import Store, minutes_between

pytestmark = pytest.mark.django_db
RULES = "/api/v1/monitoring/alerts/rules"


@pytest.fixture(autouse=True)
def _frozen(clock: Any) -> Any:
    """The clock stops before any token is issued (a token from the future is refused)."""
    return clock


def payload(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "Mint queue backed up",
        "expression": 'max(queue_size{queue="mint"})',
        "operator": ">",
        "threshold": 500,
        "for": "5m",
        "keep_firing_for": "2m",
        "cooldown": "30m",
        "severity": "warning",
        "labels": {"team": "blockchain"},
        "annotations": {"summary": "mint queue at {value}", "description": "{labels.queue}"},
        "channels": ["slack", "email"],
        "no_data": "keep_state",
    }
    body.update(overrides)
    return body


def test_an_admin_creates_a_rule_and_reads_it_back(admin_client_api: APIClient) -> None:
    response = admin_client_api.post(RULES, payload(), format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["slug"] == "mint-queue-backed-up"
    assert (body["for"], body["keep_firing_for"], body["cooldown"]) == ("5m", "2m", "30m")
    assert body["version"] == 1
    rule = Rule.objects.get(pk=body["id"])
    assert (rule.for_seconds, rule.keep_firing_for_seconds, rule.cooldown_seconds) == (
        300,
        120,
        1800,
    )
    assert rule.channels == ["slack", "email"]


def test_viewers_read_rules_but_cannot_write_them(
    viewer_client: APIClient, make_rule: Callable[..., Rule]
) -> None:
    rule = make_rule(name="Existing")
    listing = viewer_client.get(RULES)
    assert listing.status_code == 200
    assert [item["name"] for item in listing.json()["results"]] == ["Existing"]
    assert viewer_client.get(f"{RULES}/{rule.pk}").json()["expression"] == "sum(queue_size)"
    assert viewer_client.post(RULES, payload(), format="json").status_code == 403
    patched = viewer_client.patch(f"{RULES}/{rule.pk}", {"threshold": 1}, format="json")
    assert patched.status_code == 403
    assert viewer_client.delete(f"{RULES}/{rule.pk}").status_code == 403
    assert Rule.objects.get(pk=rule.pk).threshold == 100.0


def test_operators_cannot_write_rules_either(operator_client: APIClient) -> None:
    assert operator_client.post(RULES, payload(), format="json").status_code == 403
    assert not Rule.objects.exists()


@pytest.mark.parametrize(
    ("overrides", "field", "fragment"),
    [
        ({"expression": "max(queue_size"}, "expression", "line 1, column"),
        ({"expression": "max(no_such_metric)"}, "expression", "no_such_metric"),
        ({"expression": ""}, "expression", "required"),
        ({"threshold": "ten"}, "threshold", "number"),
        ({"threshold": None}, "threshold", ""),
        ({"for": -30}, "for", ""),
        ({"for": "soon"}, "for", "duration"),
        ({"cooldown": -5}, "cooldown", ""),
        ({"annotations": {"summary": "at {value} {secret}"}}, "annotations", "{secret}"),
        ({"annotations": {"runbook": "x"}}, "annotations", "runbook"),
        ({"channels": ["slack", "carrier-pigeon"]}, "channels", "carrier-pigeon"),
        ({"labels": {"bad-name": "x"}}, "labels", "bad-name"),
        ({"labels": {"team\n": "x"}}, "labels", "team"),
        ({"operator": "=>"}, "operator", ""),
        ({"severity": "urgent"}, "severity", ""),
        ({"no_data": "panic"}, "no_data", ""),
        ({"min_volume_expression": "sum(queue_size)"}, "min_volume", "number"),
        ({"min_volume_expression": "sum(", "min_volume": 3}, "min_volume_expression", ""),
    ],
)
def test_a_bad_rule_is_400_naming_the_field_and_nothing_is_saved(
    admin_client_api: APIClient, overrides: dict[str, Any], field: str, fragment: str
) -> None:
    response = admin_client_api.post(RULES, payload(**overrides), format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert field in body["details"], body
    assert fragment in " ".join(str(item) for item in body["details"][field])
    assert not Rule.objects.exists()


@pytest.mark.parametrize(("given", "seconds"), [("0s", 0), ("7s", 7), ("90s", 90)])
def test_for_may_be_any_duration_of_zero_or_more(
    admin_client_api: APIClient, given: str, seconds: int
) -> None:
    # Issue #19: for is a duration, no longer at least the evaluation interval.
    response = admin_client_api.post(RULES, payload(**{"for": given}), format="json")
    assert response.status_code == 201, response.json()
    assert Rule.objects.get().for_seconds == seconds


def test_a_bad_edit_leaves_the_rule_as_it_was(
    admin_client_api: APIClient, make_rule: Callable[..., Rule]
) -> None:
    rule = make_rule()
    response = admin_client_api.patch(
        f"{RULES}/{rule.pk}", {"threshold": 7, "expression": "rate("}, format="json"
    )
    assert response.status_code == 400
    assert list(response.json()["details"]) == ["expression"]
    rule.refresh_from_db()
    assert (rule.threshold, rule.version) == (100.0, 1)


def test_every_edit_is_kept_in_the_history_with_who_and_the_values(
    admin_client_api: APIClient, admin: Any
) -> None:
    created = admin_client_api.post(RULES, payload(), format="json").json()
    response = admin_client_api.patch(
        f"{RULES}/{created['id']}", {"threshold": 750, "for": "10m"}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["version"] == 2
    history = list(Rule.history.filter(id=created["id"]).order_by("history_date", "history_id"))
    assert [h.history_type for h in history] == ["+", "~"]
    assert {h.history_user for h in history} == {admin}
    delta = history[1].diff_against(history[0])
    changed = {change.field: (change.old, change.new) for change in delta.changes}
    assert changed["threshold"] == (500.0, 750.0)
    assert changed["for_seconds"] == (300, 600)


def test_disabling_a_rule_resolves_its_open_alerts(
    admin_client_api: APIClient, make_rule: Callable[..., Rule]
) -> None:
    rule = make_rule(for_seconds=60)
    apply_evaluation(rule=rule, result=scalar(500), now=timezone.now())
    response = admin_client_api.patch(f"{RULES}/{rule.pk}", {"enabled": False}, format="json")
    assert response.status_code == 200
    alert = Alert.objects.get(rule=rule)
    assert (alert.state, alert.resolved_by_name) == ("resolved", "ada-admin")


def test_deleting_a_rule_resolves_its_alerts_and_keeps_them_as_history(
    admin_client_api: APIClient, make_rule: Callable[..., Rule]
) -> None:
    rule = make_rule(for_seconds=0, name="Doomed")
    apply_evaluation(rule=rule, result=scalar(500), now=timezone.now())
    assert admin_client_api.delete(f"{RULES}/{rule.pk}").status_code == 204
    alert = Alert.objects.get()
    assert (alert.rule, alert.rule_name, alert.state) == (None, "Doomed", "resolved")


def test_the_builtin_rule_cannot_be_deleted_or_given_an_expression(
    admin_client_api: APIClient,
) -> None:
    seed(lambda line: None)
    builtin = Rule.objects.get(slug="service_down")
    response = admin_client_api.delete(f"{RULES}/{builtin.pk}")
    assert response.status_code == 409
    response = admin_client_api.patch(
        f"{RULES}/{builtin.pk}", {"expression": "max(queue_size)"}, format="json"
    )
    assert response.status_code == 400
    assert "expression" in response.json()["details"]
    response = admin_client_api.patch(
        f"{RULES}/{builtin.pk}", {"channels": ["email"]}, format="json"
    )
    assert response.status_code == 200
    assert Rule.objects.get(slug="service_down").channels == ["email"]


def test_an_unknown_rule_is_404(viewer_client: APIClient, admin_client_api: APIClient) -> None:
    assert viewer_client.get(f"{RULES}/424242").status_code == 404
    assert admin_client_api.delete(f"{RULES}/424242").status_code == 404


def test_the_preview_replays_the_rule_over_stored_history(
    viewer_client: APIClient, make_rule: Callable[..., Rule], clock: Any
) -> None:
    # The mint queue was over 500 from 40 to 20 minutes ago, and normal before and after.
    store = Store()
    labels = {"service": "queue", "queue": "mint"}
    store.gauge("queue_size", labels, minutes_between(T0 - timedelta(hours=2), T0), 10)
    store.save()
    high = Store()
    high.gauge(
        "queue_size",
        labels,
        minutes_between(T0 - timedelta(minutes=40), T0 - timedelta(minutes=20)),
        900,
    )
    _overwrite(high)
    rule = make_rule(
        expression='max(queue_size{queue="mint"})',
        threshold=500,
        for_seconds=300,
        keep_firing_for_seconds=0,
    )
    response = viewer_client.post(f"{RULES}/{rule.pk}/preview?range=2h")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["range"], body["step"], body["points"]) == ("2h", "1m", 121)
    [episode] = body["episodes"]
    assert body["fired"] == 1
    assert episode["pending_at"] == _iso(T0 - timedelta(minutes=40))
    assert episode["fired_at"] == _iso(T0 - timedelta(minutes=35))
    assert episode["max_value"] == 900.0
    assert episode["resolved_at"] == _iso(T0 - timedelta(minutes=19))


@pytest.mark.parametrize("value", ["forever", "10d", "0s"])
def test_a_bad_preview_range_is_400(
    viewer_client: APIClient, make_rule: Callable[..., Rule], value: str
) -> None:
    rule = make_rule()
    response = viewer_client.post(f"{RULES}/{rule.pk}/preview?range={value}")
    assert response.status_code == 400
    assert "range" in response.json()["details"]


def _overwrite(store: Store) -> None:
    """Replace the gauge's buckets in the minutes ``store`` holds with its values."""
    from metrics_app.models import Bucket, Series

    for (name, labels_key), minutes in store.points.items():
        series = Series.objects.get(name=name, labels_key=labels_key)
        for minute, values in minutes.items():
            Bucket.objects.filter(series=series, start=minute).update(
                sum=values[-1], min=values[-1], max=values[-1], last=values[-1]
            )


def _iso(moment: Any) -> str:
    return moment.isoformat().replace("+00:00", "Z")
