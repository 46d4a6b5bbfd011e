"""The alert state machine, fed evaluation results directly, under a moved clock."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from alerts.channels.base import resolution_text
from alerts.engine.cycle import open_alerts_by_rule
from alerts.engine.lifecycle import apply_evaluation
from alerts.models import Alert, AlertEvent, Notification, Rule
from alerts.notifications.messages import from_payload
from alerts.services import InvalidTransition, acknowledge_alert, resolve_alert
from tests.alerts.conftest import scalar, vector

# A working channel: these scenarios are the nominal lifecycle (test_unrouted covers none).
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("a_channel")]


PATHS = {"path": "locked"}


@pytest.fixture(autouse=True, params=["locked", "cycle"])
def _path(request: pytest.FixtureRequest) -> None:
    """Every scenario runs twice: straight under the rule's lock, and as a cycle runs it (the
    open alerts read first without a lock, the lock taken only when something changes)."""
    PATHS["path"] = request.param


def evaluate(rule: Rule, result: Any, guard: Any = None) -> Any:
    known = None
    if PATHS["path"] == "cycle":
        known = open_alerts_by_rule().get(rule.pk, {})
    return apply_evaluation(
        rule=rule, result=result, guard=guard, now=timezone.now(), open_alerts=known
    )


def kinds(alert: Alert) -> list[str]:
    return list(alert.events.order_by("at", "pk").values_list("kind", flat=True))


def only_alert(rule: Rule) -> Alert:
    alerts = list(Alert.objects.filter(rule=rule))
    assert len(alerts) == 1
    return alerts[0]


def test_a_true_condition_waits_pending_for_its_for_duration_then_fires(
    make_rule: Callable[..., Rule], clock: Any
) -> None:
    rule = make_rule(for_seconds=120)
    evaluate(rule, scalar(150))
    alert = only_alert(rule)
    assert (alert.state, alert.value, alert.fired_at) == ("pending", 150.0, None)

    clock.shift(60)
    evaluate(rule, scalar(160))
    assert only_alert(rule).state == "pending"

    clock.shift(60)
    evaluate(rule, scalar(170))
    alert = only_alert(rule)
    assert alert.state == "firing"
    assert alert.fired_at == timezone.now()
    assert alert.value == 170.0
    assert kinds(alert) == ["pending", "firing"]


def test_a_rule_with_no_for_fires_at_the_first_evaluation(
    make_rule: Callable[..., Rule], clock: Any
) -> None:
    rule = make_rule(for_seconds=0)
    evaluate(rule, scalar(150))
    alert = only_alert(rule)
    assert alert.state == "firing"
    assert kinds(alert) == ["pending", "firing"]


def test_a_pending_alert_whose_condition_clears_closes_without_a_message(
    make_rule: Callable[..., Rule], clock: Any
) -> None:
    rule = make_rule(for_seconds=300, keep_firing_for_seconds=600)
    evaluate(rule, scalar(150))
    clock.shift(60)
    evaluate(rule, scalar(99))
    alert = only_alert(rule)
    assert alert.state == "resolved"
    resolved = alert.events.get(kind="resolved")
    assert resolved.details == {"reason": "condition false before firing", "notify": False}


def test_a_firing_alert_keeps_firing_for_its_keep_firing_for_before_resolving(
    make_rule: Callable[..., Rule], clock: Any
) -> None:
    rule = make_rule(for_seconds=0, keep_firing_for_seconds=300)
    evaluate(rule, scalar(150))
    clock.shift(60)
    evaluate(rule, scalar(50))
    assert only_alert(rule).state == "firing"

    clock.shift(240)
    evaluate(rule, scalar(50))
    assert only_alert(rule).state == "firing"

    clock.shift(60)
    evaluate(rule, scalar(50))
    alert = only_alert(rule)
    assert alert.state == "resolved"
    assert alert.resolved_at == timezone.now()
    assert kinds(alert) == ["pending", "firing", "resolved"]


def test_the_condition_coming_back_restarts_the_keep_firing_for_wait(
    make_rule: Callable[..., Rule], clock: Any
) -> None:
    rule = make_rule(for_seconds=0, keep_firing_for_seconds=300)
    evaluate(rule, scalar(150))
    clock.shift(240)
    evaluate(rule, scalar(50))
    clock.shift(60)
    evaluate(rule, scalar(150))
    clock.shift(240)
    evaluate(rule, scalar(50))
    assert only_alert(rule).state == "firing"
    clock.shift(300)
    evaluate(rule, scalar(50))
    assert only_alert(rule).state == "resolved"


def test_a_vector_result_makes_one_alert_per_label_set_with_the_rules_labels(
    make_rule: Callable[..., Rule], clock: Any
) -> None:
    rule = make_rule(for_seconds=0, labels={"team": "payments"})
    evaluate(
        rule,
        vector(({"service": "payment"}, 500), ({"service": "order"}, 120), ({"service": "x"}, 5)),
    )
    alerts = {a.labels["service"]: a for a in Alert.objects.filter(rule=rule)}
    assert set(alerts) == {"payment", "order"}
    assert alerts["payment"].labels == {"service": "payment", "team": "payments"}
    assert alerts["payment"].fingerprint != alerts["order"].fingerprint
    assert alerts["payment"].description == "service payment queue 500"

    clock.shift(60)
    evaluate(rule, vector(({"service": "payment"}, 500), ({"service": "order"}, 10)))
    states = dict(Alert.objects.filter(rule=rule).values_list("labels__service", "state"))
    assert states == {"payment": "firing", "order": "resolved"}


def test_an_alert_keeps_the_rule_as_it_was_when_it_opened(
    make_rule: Callable[..., Rule], clock: Any
) -> None:
    rule = make_rule(for_seconds=0, threshold=100)
    evaluate(rule, scalar(150))
    rule.threshold = 200
    rule.expression = "max(queue_size)"
    rule.save()
    alert = only_alert(rule)
    assert (alert.threshold, alert.expression, alert.rule_version) == (100.0, "sum(queue_size)", 1)
    assert Rule.objects.get(pk=rule.pk).version == 2
    assert alert.summary == "queue at 150 (over 100)"


def test_acknowledging_a_firing_alert_records_who_and_when(
    make_rule: Callable[..., Rule], clock: Any, operator: Any
) -> None:
    rule = make_rule(for_seconds=0)
    evaluate(rule, scalar(150))
    clock.shift(90)
    alert = acknowledge_alert(alert=only_alert(rule), user=operator)
    assert alert.state == "acknowledged"
    assert alert.acknowledged_by == operator
    assert alert.acknowledged_at == timezone.now()
    event = alert.events.get(kind="acknowledged")
    assert (event.actor, event.user, event.details) == ("otto-operator", operator, {"notify": True})


def test_acknowledging_a_pending_or_resolved_alert_is_refused_with_its_state(
    make_rule: Callable[..., Rule], clock: Any, operator: Any
) -> None:
    rule = make_rule(for_seconds=300)
    evaluate(rule, scalar(150))
    pending = only_alert(rule)
    with pytest.raises(InvalidTransition) as refused:
        acknowledge_alert(alert=pending, user=operator)
    assert refused.value.state == "pending"
    resolve_alert(alert=pending, user=operator)
    with pytest.raises(InvalidTransition) as refused:
        acknowledge_alert(alert=pending, user=operator)
    assert refused.value.state == "resolved"
    assert kinds(Alert.objects.get(pk=pending.pk)) == ["pending", "resolved"]


def test_an_acknowledged_alert_resolves_when_its_condition_clears(
    make_rule: Callable[..., Rule], clock: Any, operator: Any
) -> None:
    rule = make_rule(for_seconds=0)
    evaluate(rule, scalar(150))
    acknowledge_alert(alert=only_alert(rule), user=operator)
    clock.shift(60)
    evaluate(rule, scalar(150))
    assert only_alert(rule).state == "acknowledged"
    clock.shift(60)
    evaluate(rule, scalar(10))
    assert kinds(only_alert(rule)) == ["pending", "firing", "acknowledged", "resolved"]


def test_a_manual_resolve_closes_the_alert_and_a_still_true_condition_opens_a_new_one(
    make_rule: Callable[..., Rule], clock: Any, operator: Any
) -> None:
    rule = make_rule(for_seconds=60)
    evaluate(rule, scalar(150))
    clock.shift(60)
    evaluate(rule, scalar(150))
    first = only_alert(rule)
    resolve_alert(alert=first, user=operator)
    first.refresh_from_db()
    assert (first.state, first.resolved_by_name) == ("resolved", "otto-operator")
    with pytest.raises(InvalidTransition):
        resolve_alert(alert=first, user=operator)

    clock.shift(60)
    evaluate(rule, scalar(150))
    second = Alert.objects.get(rule=rule, state="pending")
    assert second.pk != first.pk
    assert second.fingerprint == first.fingerprint
    clock.shift(60)
    evaluate(rule, scalar(150))
    assert Alert.objects.get(pk=second.pk).state == "firing"


def test_the_cooldown_silences_a_refire_of_the_same_fingerprint_until_it_has_passed(
    make_rule: Callable[..., Rule], clock: Any
) -> None:
    rule = make_rule(for_seconds=0, cooldown_seconds=1800)
    evaluate(rule, scalar(150))
    clock.shift(60)
    evaluate(rule, scalar(10))
    clock.shift(600)
    evaluate(rule, scalar(150))  # re-fires 11 minutes after the first message
    clock.shift(60)
    evaluate(rule, scalar(10))
    clock.shift(1200)
    evaluate(rule, scalar(150))  # 32 minutes after the first message
    firing = list(
        AlertEvent.objects.filter(alert__rule=rule, kind="firing")
        .order_by("at")
        .values_list("details", flat=True)
    )
    assert [event["notify"] for event in firing] == [True, False, True]
    assert firing[1]["suppressed"] == "cooldown"
    resolved = AlertEvent.objects.filter(alert__rule=rule, kind="resolved").order_by("at")
    # The first alert's resolution is told; the silenced re-fire's resolution is not.
    assert [event.details["notify"] for event in resolved] == [True, False]


def test_the_cooldown_never_holds_back_the_resolved_message(
    make_rule: Callable[..., Rule], clock: Any
) -> None:
    rule = make_rule(for_seconds=0, cooldown_seconds=3600)
    evaluate(rule, scalar(150))
    clock.shift(60)
    evaluate(rule, scalar(10))
    resolved = AlertEvent.objects.get(alert__rule=rule, kind="resolved")
    assert resolved.details["notify"] is True


def test_no_data_ok_resolves_a_firing_alert(make_rule: Callable[..., Rule], clock: Any) -> None:
    rule = make_rule(for_seconds=0, no_data="ok")
    evaluate(rule, scalar(150))
    clock.shift(60)
    evaluate(rule, vector())
    assert only_alert(rule).state == "resolved"


def test_a_resolved_alert_keeps_the_value_that_resolved_it_and_how_long_it_fired(
    make_rule: Callable[..., Rule], clock: Any, a_channel: Any
) -> None:
    # Issue #19: the resolved message said "19.6044 > 10", the last value while it held.
    rule = make_rule(for_seconds=60, threshold=10)
    evaluate(rule, vector(({"service": "payment"}, 19.6044)))
    clock.shift(60)
    evaluate(rule, vector(({"service": "payment"}, 19.6044)))  # fires
    clock.shift(200)
    evaluate(rule, vector(({"service": "payment"}, 4.2)))
    alert = only_alert(rule)
    assert (alert.state, alert.value) == ("resolved", 19.6044)
    assert (alert.resolved_value, alert.fired_seconds) == (4.2, 200.0)
    message = from_payload(Notification.objects.get(alert=alert, kind="resolved").payload)
    assert resolution_text(message) == "4.2, no longer > 10, after firing for 3 min 20 s"


def test_an_alert_resolved_for_lack_of_data_says_so(
    make_rule: Callable[..., Rule], clock: Any
) -> None:
    rule = make_rule(for_seconds=0, no_data="ok")
    evaluate(rule, scalar(150))
    clock.shift(45)
    evaluate(rule, vector())
    alert = only_alert(rule)
    assert (alert.resolved_value, alert.fired_seconds) == (None, 45.0)


def test_no_data_keep_state_changes_nothing(make_rule: Callable[..., Rule], clock: Any) -> None:
    rule = make_rule(for_seconds=120, no_data="keep_state")
    evaluate(rule, scalar(150))
    clock.shift(600)
    evaluate(rule, vector())
    alert = only_alert(rule)
    assert alert.state == "pending"
    assert kinds(alert) == ["pending"]
    evaluate(rule, scalar(150))
    assert only_alert(rule).state == "firing"


def test_no_data_alerting_raises_an_alert_after_its_for(
    make_rule: Callable[..., Rule], clock: Any
) -> None:
    rule = make_rule(for_seconds=120, no_data="alerting")
    evaluate(rule, vector())
    alert = only_alert(rule)
    assert (alert.state, alert.value, alert.details) == ("pending", None, {"no_data": True})
    assert alert.summary == "queue at no data (over 100)"
    clock.shift(120)
    evaluate(rule, vector())
    assert only_alert(rule).state == "firing"
    clock.shift(60)
    evaluate(rule, scalar(10))
    assert only_alert(rule).state == "resolved"


def test_the_volume_guard_keeps_the_rule_quiet_below_its_minimum(
    make_rule: Callable[..., Rule], clock: Any
) -> None:
    rule = make_rule(
        for_seconds=0, min_volume_expression="sum(queue_size)", min_volume=20, threshold=10
    )
    evaluate(rule, scalar(50), guard=scalar(19))
    evaluate(rule, scalar(50), guard=vector())
    assert not Alert.objects.filter(rule=rule).exists()
    evaluate(rule, scalar(50), guard=vector(({}, 20)))
    assert only_alert(rule).state == "firing"
    clock.shift(60)
    evaluate(rule, scalar(50), guard=scalar(3))
    assert only_alert(rule).state == "resolved"


def test_a_run_time_error_changes_no_alert_and_is_reported(
    make_rule: Callable[..., Rule], clock: Any
) -> None:
    rule = make_rule(for_seconds=0)
    evaluate(rule, scalar(150))
    clock.shift(60)
    outcome = evaluate(rule, ValueError("series limit exceeded"))
    assert outcome.error == "ValueError: series limit exceeded"
    assert only_alert(rule).state == "firing"


def test_nan_never_crosses_a_threshold(make_rule: Callable[..., Rule], clock: Any) -> None:
    rule = make_rule(for_seconds=0, operator="!=", threshold=0)
    evaluate(rule, scalar(math.nan))
    assert not Alert.objects.filter(rule=rule).exists()


def test_evaluating_twice_at_the_same_instant_changes_nothing_more(
    make_rule: Callable[..., Rule], clock: Any
) -> None:
    rule = make_rule(for_seconds=0)
    evaluate(rule, scalar(150))
    second = evaluate(rule, scalar(150))
    assert second.changes == 0
    assert AlertEvent.objects.filter(alert__rule=rule).count() == 2


def test_the_database_refuses_a_second_open_alert_of_one_fingerprint(
    make_rule: Callable[..., Rule], clock: Any
) -> None:
    rule = make_rule(for_seconds=0)
    evaluate(rule, scalar(150))
    alert = only_alert(rule)
    alert.pk = None
    alert.state = "pending"
    with pytest.raises(IntegrityError), transaction.atomic():
        alert.save()
    alert.state = "resolved"
    alert.save()  # closed alerts of the fingerprint are history, any number of them
    assert Alert.objects.filter(fingerprint=alert.fingerprint).count() == 2


def test_annotations_are_filled_by_plain_substitution_only(
    make_rule: Callable[..., Rule], clock: Any
) -> None:
    rule = make_rule(
        for_seconds=0,
        annotations={"summary": "{value.__class__} {labels.service} {labels.none} {threshold}"},
    )
    evaluate(rule, vector(({"service": "payment"}, 123.456)))
    assert only_alert(rule).summary == "{value.__class__} payment  100"
