"""One query per distinct leaf, whatever the number of expressions sharing it."""

from __future__ import annotations

import math

from django.db import connection
from django.test.utils import CaptureQueriesContext

from alerts.language import RuleError, Sample, Vector, evaluate_many, parse
from tests.alerts.language.conftest import NOW, Store


def test_a_cycle_of_many_rules_costs_one_query_per_distinct_leaf(store: Store) -> None:
    for service in ("api", "web", "payment"):
        store.counter("errors_total", {"service": service, "type": "db"}).add(0, 2).add(3, 1)
        store.counter("tickets_sold_total", {"service": service}).add(1, 10)
        store.gauge("queue_size", {"service": service, "queue": "mint"}, m0=[50])
        for le in ("100", "+Inf"):
            store.counter("http_request_duration_ms_bucket", {"service": service, "le": le})
    shapes = [
        "sum(rate(errors_total[5m])) / sum(rate(tickets_sold_total[5m])) * {n}",
        "max(queue_size) - {n}",
        'sum by (service) (increase(errors_total{{type="db"}}[5m])) + {n}',
        "sum(increase(tickets_sold_total[5m])) * {n}",
        "histogram_quantile(0.{n}, sum by (le) (rate(http_request_duration_ms_bucket[5m])))",
    ]
    exprs = [parse(shapes[i % len(shapes)].format(n=i)) for i in range(200)]
    # leaves: errors_total[5m], tickets_sold_total[5m], queue_size, errors_total{type="db"}[5m],
    # http_request_duration_ms_bucket[5m]
    with CaptureQueriesContext(connection) as queries:
        results = evaluate_many(exprs, at=NOW)
    # one per leaf, and one for where the 10-second buckets begin (a range window slides over
    # them when it starts after; here there are none, so the minute buckets are read)
    assert len(queries.captured_queries) == 5 + 1
    assert len(results) == 200
    assert results[3] == Vector([Sample({}, 30 * 3.0)])
    assert results[1] == Vector([Sample({}, 49.0)])
    quantile, by_service_result = results[4], results[2]
    assert isinstance(quantile, Vector) and isinstance(by_service_result, Vector)
    assert len(quantile.samples) == 1 and math.isnan(quantile.samples[0].value)
    by_service = {s.labels["service"]: s.value for s in by_service_result.samples}
    assert by_service == {"api": 5.0, "web": 5.0, "payment": 5.0}


def test_the_same_selector_spelled_differently_is_one_leaf(store: Store) -> None:
    store.counter("errors_total", {"service": "api", "type": "db"}).add(0, 2)
    exprs = [
        parse('rate(errors_total{service="api", type="db"}[5m])'),
        parse("rate(errors_total{type='db',service='api'}[5m]) * 60"),
        parse('increase(errors_total{type="db", service="api"}[5m])'),
    ]
    with CaptureQueriesContext(connection) as queries:
        results = evaluate_many(exprs, at=NOW)
    assert len(queries.captured_queries) == 1 + 1  # the leaf, where fine buckets begin
    assert all(isinstance(r, Vector) for r in results)
    assert [r.samples[0].value for r in results if isinstance(r, Vector)] == [
        2 / 300,
        2 / 300 * 60,
        2.0,
    ]


def test_an_invalid_text_among_expressions_is_returned_in_its_slot(store: Store) -> None:
    store.gauge("queue_size", {"service": "q", "queue": "a"}, m0=[3])
    ok, bad = evaluate_many(["queue_size", "queue_size +"], at=NOW)
    assert ok == Vector([Sample({"service": "q", "queue": "a"}, 3.0)])
    assert isinstance(bad, RuleError)
    assert bad.as_dict()["message"] == "unexpected end of input"
