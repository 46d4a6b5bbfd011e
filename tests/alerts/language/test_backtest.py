"""Backtest: the expression at every step of a past range, as evaluate() gives it at each step."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from alerts.language import RuleError, Vector, backtest, evaluate
from tests.alerts.language.conftest import NOW, Store, minute

EXPRESSIONS = [
    "sum(increase(tickets_sold_total[5m]))",
    "rate(tickets_sold_total[10m]) * 60",
    "tickets_sold_total",
    "queue_size",
    "max_over_time(queue_size[3m]) - min_over_time(queue_size[3m])",
    "avg_over_time(queue_size[5m]) + count_over_time(queue_size[5m])",
    "last_over_time(queue_size[2m])",
    "sum(increase(tickets_sold_total[5m] offset 1w))",
]


@pytest.fixture
def history(store: Store) -> Store:
    counter = store.counter("tickets_sold_total", {"service": "ticket"})
    for ago in range(0, 40, 3):
        counter.add(ago, ago + 1)
    store.counter("tickets_sold_total", {"service": "order"}, created=minute(20)).add(2, 5)
    store.gauge(
        "queue_size",
        {"service": "queue", "queue": "a"},
        **{f"m{n}": [n, 2 * n] for n in range(0, 30, 4)},
    )
    return store


@pytest.mark.parametrize("text", EXPRESSIONS)
def test_each_step_equals_evaluate_at_that_instant(history: Store, text: str) -> None:
    start, end = NOW - timedelta(minutes=30), NOW
    steps = backtest(text, start=start, end=end, step=timedelta(minutes=1))
    assert [moment for moment, _ in steps] == [start + timedelta(minutes=i) for i in range(31)]
    for moment, result in steps:
        expected = evaluate(text, at=moment)
        assert _sorted(result) == _sorted(expected), (text, moment)


def _sorted(result: object) -> object:
    if isinstance(result, Vector):
        return sorted((sorted(s.labels.items()), s.value) for s in result.samples)
    return result


def test_a_day_by_the_minute_reads_each_leaf_once_not_once_per_step(history: Store) -> None:
    with CaptureQueriesContext(connection) as queries:
        steps = backtest(
            "sum(rate(tickets_sold_total[5m])) / sum(max_over_time(queue_size[5m]))",
            start=NOW - timedelta(days=1),
            end=NOW,
            step=timedelta(minutes=1),
        )
    assert len(steps) == 1441
    assert len(queries.captured_queries) == 4  # two leaves: their series, then their buckets
    assert steps[0][1] == Vector([])
    last = steps[-1][1]
    assert isinstance(last, Vector)
    assert [(s.labels, s.value) for s in last.samples] == [({}, pytest.approx(10 / 300 / 8))]


def test_a_backtest_refuses_a_bad_range(history: Store) -> None:
    with pytest.raises(RuleError, match="at most 10000 steps"):
        backtest("queue_size", start=NOW - timedelta(days=30), end=NOW, step=timedelta(minutes=1))
    with pytest.raises(RuleError, match="ends before it starts"):
        backtest("queue_size", start=NOW, end=NOW - timedelta(hours=1), step=timedelta(minutes=1))
    with pytest.raises(RuleError, match="step must be positive"):
        backtest("queue_size", start=NOW, end=NOW, step=timedelta(0))
    with pytest.raises(RuleError, match="unknown metric"):
        backtest("queue_sise", start=NOW, end=NOW, step=timedelta(minutes=1))
