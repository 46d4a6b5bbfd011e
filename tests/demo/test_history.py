"""History backfill: written through the storage layer, rolled up, read by the rule language."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from django.utils import timezone

from alerts.language.evaluator import evaluate
from alerts.language.tree import Vector
from demo.history import backfill, history_start, replay_health
from demo.scenario import parse_scenario
from health.models import CheckResult, Service, UptimeHour
from metrics_app.models import Bucket, Rollup, Series

pytestmark = pytest.mark.django_db

REVENUE_NOW = "sum(increase(revenue_total_cents[1h]))"
REVENUE_WEEK_AGO = "sum(increase(revenue_total_cents[1h] offset 1w))"


def values(expression: str) -> list[float]:
    result = evaluate(expression, at=timezone.now())
    assert isinstance(result, Vector)
    return [sample.value for sample in result.samples]


def test_backfilled_history_answers_offset_1w_like_the_current_hour() -> None:
    now = timezone.now()
    week = timedelta(weeks=1)
    # The hours the two windows read: a week ago (15-minute steps) and now (1-minute steps).
    old = backfill(
        start=now - week - timedelta(hours=2),
        end=now - week + timedelta(hours=1),
        started_at=now,
        seed=4,
    )
    recent = backfill(start=now - timedelta(hours=1), end=now, seed=5)
    assert (old.steps, recent.steps) == (12, 60)
    week_ago, current = values(REVENUE_WEEK_AGO), values(REVENUE_NOW)
    assert len(week_ago) == 1 and week_ago[0] > 10_000  # Revenue Drop's minimum volume
    # Same weekday and hour: the same expected revenue, but for noise and the window's edges
    # (a week ago holds 15-minute points: four or five of them fall into an hour's window).
    assert 0.5 < week_ago[0] / current[0] < 2
    assert Rollup.objects.filter(resolution=300).exists()
    assert Series.objects.filter(name="revenue_total_cents").count() == 3


def test_history_is_written_once_a_second_run_only_fills_the_gap() -> None:
    now = timezone.now()
    backfill(start=now - timedelta(hours=3), end=now - timedelta(minutes=30))
    start = history_start(span=timedelta(days=35), until=now)
    newest = Bucket.objects.filter(series__name="tickets_sold_total").latest("start").start
    assert start == newest + timedelta(minutes=1)
    assert now - timedelta(minutes=31) <= start <= now - timedelta(minutes=29)


def test_an_incident_under_way_at_the_start_is_in_the_history() -> None:
    scenario = parse_scenario(
        "incidents:\n  - {kind: payment_failures, at: -10m, duration: 20m, rate: 0.9}\n"
    )
    now = timezone.now()
    backfill(start=now - timedelta(minutes=30), end=now, scenario=scenario, seed=2)
    ratio = values(
        "sum(increase(payment_failure_total[10m])) / (sum(increase(payment_success_total[10m]))"
        " + sum(increase(payment_failure_total[10m])))"
    )
    assert ratio[0] > 0.7


def test_uptime_history_covers_every_simulated_service(
    make_service: object,
) -> None:
    now = timezone.now()
    backfill(start=now - timedelta(hours=5), end=now)
    hours = UptimeHour.objects.filter(service__slug="payment")
    assert 4 <= hours.count() <= 5
    assert all(row.checks == 60 and row.up + row.down == 60 for row in hours)


@pytest.fixture
def make_service(db: object) -> Service:
    return Service.objects.create(
        slug="payment", name="Payment", kind="http", target="http://127.0.0.1:9"
    )


def test_replayed_health_rounds_leave_a_service_down_before_the_start_down() -> None:
    scenario = parse_scenario(
        "incidents:\n  - {kind: dependency_outage, at: -3m, duration: 8m, service: payment}\n"
    )
    for slug in ("payment", "order", "auth"):
        Service.objects.create(slug=slug, name=slug, kind="http", target="http://127.0.0.1:9")
    now = timezone.now()
    rounds = replay_health(
        start=now - timedelta(minutes=10),
        end=now,
        incidents=scenario.incidents,
        rng=random.Random(1),
    )
    assert rounds == 10
    states = dict(Service.objects.values_list("slug", "state"))
    assert states == {"payment": "down", "order": "down", "auth": "up"}
    assert CheckResult.objects.filter(service__slug="auth").count() == 10
