"""The evaluator loop (issue #19): lease, clock, for as a duration, the minute safety net."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from alerts.bootstrap import seed
from alerts.engine.evaluator import Evaluator, evaluator_alive, hold_heartbeat
from alerts.engine.lease import claim_lease
from alerts.models import Alert, EvaluationCycle, EvaluationLease, EvaluatorHeartbeat, Rule
from alerts.tasks import evaluate_rules
from metrics_app.catalogue import get_metric
from metrics_app.ingest import Sample
from metrics_app.services import store_samples
from tests.alerts.conftest import T0

pytestmark = pytest.mark.django_db
QUEUE = {"service": "queue", "queue": "mint"}


@pytest.fixture(autouse=True)
def fifteen_seconds(settings: Any) -> None:
    settings.RULE_EVALUATION_INTERVAL_SECONDS = 15
    settings.RULE_EVALUATION_DEBOUNCE_SECONDS = 2.0
    settings.RULE_EVALUATION_MIN_GAP_SECONDS = 5.0


def push_queue(value: float) -> None:
    """A sample of queue_size through the ingest service, stamped by the clock."""
    spec = get_metric("queue_size")
    assert spec is not None
    store_samples(samples=[Sample(spec, dict(QUEUE), (value,), timezone.now())])


def at(clock: Any, seconds: float) -> None:
    clock.move_to(T0 + timedelta(seconds=seconds))


def cycles() -> list[tuple[str, float, int]]:
    """(reason, seconds after T0 of the instant evaluated, rules) of every cycle, in order."""
    rows = EvaluationCycle.objects.order_by("started_at", "pk")
    return [
        (row.reason, (row.scheduled_for - T0).total_seconds(), row.rules)
        for row in rows
        if not row.skipped
    ]


def test_one_evaluator_holds_the_lease_and_a_second_takes_over_within_one_interval(
    clock: Any,
) -> None:
    first, second = Evaluator(holder="first"), Evaluator(holder="second")
    first.turn()
    second.turn()
    assert first.holding and not second.holding
    assert EvaluatorHeartbeat.objects.get().holder == "first"
    at(clock, 10)
    first.turn()
    second.turn()
    assert not second.holding
    # The first dies after its turn at +10 s: its lease (one interval) ends at +25 s.
    at(clock, 24)
    second.turn()
    assert not second.holding
    at(clock, 25)
    second.turn()
    assert second.holding
    row = EvaluatorHeartbeat.objects.get()
    assert (row.holder, row.since, row.beat_at) == ("second", timezone.now(), timezone.now())


def test_a_takeover_frees_the_evaluation_lease_the_dead_holder_kept(clock: Any) -> None:
    assert hold_heartbeat(holder="dead", now=timezone.now())
    assert claim_lease(holder="dead", now=timezone.now())  # it died inside a cycle
    at(clock, 16)
    successor = Evaluator(holder="successor")
    successor.turn()
    assert successor.holding
    assert EvaluationLease.objects.get().holder == ""
    assert [c[0] for c in cycles()] == ["schedule"]


def test_the_grid_evaluates_every_rule_at_its_boundary_even_when_the_turn_is_late(
    make_rule: Callable[..., Rule], clock: Any
) -> None:
    make_rule(expression="max(queue_size)")
    make_rule(expression="sum(queue_size)")
    evaluator = Evaluator()
    evaluator.turn()  # T0 is a boundary of the 15-second grid
    at(clock, 15.4)  # a turn 0.4 s late
    evaluator.turn()
    at(clock, 20)
    evaluator.turn()  # nothing due
    assert cycles() == [("schedule", 0.0, 2), ("schedule", 15.0, 2)]
    late = EvaluationCycle.objects.get(scheduled_for=T0 + timedelta(seconds=15))
    assert late.lag_ms == pytest.approx(400)


def test_the_evaluator_sleeps_until_the_next_grid_point(
    make_rule: Callable[..., Rule], clock: Any
) -> None:
    make_rule(expression="max(queue_size)")
    evaluator = Evaluator()
    evaluator.turn()
    at(clock, 14.5)
    assert evaluator.turn() == pytest.approx(0.5)  # before the next poll (1 s)


def test_an_alert_fires_at_the_instant_its_for_ends_not_at_the_next_grid_point(
    make_rule: Callable[..., Rule], clock: Any
) -> None:
    make_rule(expression="max(queue_size)", threshold=1000, for_seconds=20)
    at(clock, -5)
    push_queue(1500)
    at(clock, 0)
    evaluator = Evaluator()
    evaluator.turn()
    alert = Alert.objects.get()
    assert (alert.state, alert.started_at) == ("pending", T0)
    at(clock, 19)
    assert evaluator.turn() == pytest.approx(1.0)  # it wakes for the end of for at +20 s
    at(clock, 20)
    evaluator.turn()
    alert.refresh_from_db()
    assert (alert.state, alert.fired_at) == ("firing", T0 + timedelta(seconds=20))
    assert cycles()[-1] == ("for", 20.0, 1)


def test_a_rule_whose_series_received_samples_is_evaluated_after_the_debounce(
    make_rule: Callable[..., Rule], clock: Any
) -> None:
    rule = make_rule(expression="max(queue_size)", threshold=1000, for_seconds=0)
    make_rule(expression="sum(http_requests_total)")  # other series: not evaluated early
    evaluator = Evaluator()
    evaluator.turn()  # grid at T0: no data yet
    at(clock, 3)
    push_queue(1500)
    at(clock, 3.5)
    assert evaluator.turn() == pytest.approx(1.0)
    at(clock, 5.5)  # 2 s after the samples were first seen
    evaluator.turn()
    assert cycles()[-1] == ("samples", 5.5, 1)
    alert = Alert.objects.get()
    assert (alert.rule_id, alert.state, alert.fired_at) == (
        rule.pk,
        "firing",
        T0 + timedelta(seconds=5.5),
    )


def test_samples_trigger_a_rule_at_most_once_per_gap(
    make_rule: Callable[..., Rule], clock: Any
) -> None:
    make_rule(expression="max(queue_size)", threshold=1000)
    evaluator = Evaluator()
    evaluator.turn()
    for second in (1, 2, 3, 4, 5, 6, 7, 8, 9, 10):
        at(clock, second)
        push_queue(10)
        evaluator.turn()
    early = [c for c in cycles() if c[0] == "samples"]
    # First seen at +1 (due +3); next seen after the 5 s gap from +3 (at +8, due +10).
    assert [c[1] for c in early] == [3.0, 10.0]


def test_the_minute_job_does_nothing_while_the_evaluator_beats(
    make_rule: Callable[..., Rule], clock: Any
) -> None:
    make_rule(expression="max(queue_size)")
    Evaluator().turn()
    at(clock, 29)
    assert evaluator_alive(now=timezone.now())
    assert evaluate_rules() == "the evaluator runs"
    assert [c[0] for c in cycles()] == ["schedule"]


def test_the_minute_job_evaluates_and_raises_a_self_alert_when_the_evaluator_is_silent(
    make_rule: Callable[..., Rule], clock: Any
) -> None:
    seed(lambda line: None)
    make_rule(expression="max(queue_size)")
    Evaluator().turn()
    at(clock, 30)  # two intervals without a beat
    rules = Rule.objects.filter(enabled=True, builtin=False).count()  # the seeded ones too
    assert evaluate_rules() == f"no evaluator: {rules} rules, 0 errors, 0 changes"
    assert cycles()[-1] == ("fallback", 30.0, rules)
    alert = Alert.objects.get(source=Alert.Source.SELF)
    assert (alert.labels["check"], alert.state) == ("evaluator_down", "firing")
    at(clock, 90)
    evaluate_rules()  # still silent: the alert stays the one open
    assert Alert.objects.filter(source=Alert.Source.SELF).count() == 1


def test_an_end_of_for_passed_during_a_turns_cycles_is_evaluated_at_once(
    make_rule: Callable[..., Rule], clock: Any
) -> None:
    # Found by bench/detection.py: a samples cycle ending just after a for ended slept until
    # the next grid point, so the alert fired 0.4 s late at the grid instead of at its for.
    make_rule(expression="max(queue_size)", threshold=1000, for_seconds=20)
    at(clock, -5)
    push_queue(1500)
    at(clock, 0)
    evaluator = Evaluator()
    evaluator.turn()
    at(clock, 20.1)  # the turn's cycles ran past the end of for at +20 s
    assert evaluator._sleep(timezone.now()) == 0.0
    evaluator.turn()
    alert = Alert.objects.get()
    assert (alert.state, alert.fired_at) == ("firing", T0 + timedelta(seconds=20))
