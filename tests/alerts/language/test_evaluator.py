"""Evaluation against hand-computed buckets: every function, aggregation and operator.

The clock is frozen at NOW = 12:00:30; ``minute(n)`` is the minute n minutes before 12:00, so a
``[5m]`` window holds minutes 0 to 4 (12:00, 11:59, ... 11:56).
"""

from __future__ import annotations

import math
from datetime import timedelta

import pytest

from alerts.language import RuleError, Sample, Scalar, Vector, evaluate, evaluate_many, parse
from tests.alerts.language.conftest import NOW, Store


def values(result: Scalar | Vector) -> dict[tuple, float]:
    assert isinstance(result, Vector)
    return {tuple(sorted(s.labels.items())): s.value for s in result.samples}


def single(result: Scalar | Vector) -> float:
    assert isinstance(result, Vector) and len(result.samples) == 1, result
    return result.samples[0].value


API = {"service": "api"}


@pytest.fixture
def tickets(store: Store) -> Store:
    # increments: minute 0: 3, minute 4: 2, minute 5: 100 (outside [5m]), minute 9: 7
    store.counter("tickets_sold_total", API).add(0, 1, 2).add(4, 2).add(5, 100).add(9, 7)
    return store


def test_increase_sums_the_increments_of_the_window_including_the_current_minute(
    tickets: Store,
) -> None:
    assert single(evaluate("increase(tickets_sold_total[5m])", at=NOW)) == 5.0
    assert single(evaluate("increase(tickets_sold_total[6m])", at=NOW)) == 105.0


def test_rate_is_increase_divided_by_the_window_in_seconds_without_extrapolation(
    tickets: Store,
) -> None:
    assert single(evaluate("rate(tickets_sold_total[5m])", at=NOW)) == 5.0 / 300
    assert single(evaluate("rate(tickets_sold_total[30s])", at=NOW)) == 3.0 / 30


def test_count_over_time_of_a_counter_counts_the_pushes(tickets: Store) -> None:
    assert single(evaluate("count_over_time(tickets_sold_total[5m])", at=NOW)) == 3.0


def test_a_counter_without_increments_in_the_window_increased_by_zero(store: Store) -> None:
    store.counter("errors_total", {"service": "api", "type": "db"}).add(30, 4)
    assert single(evaluate("increase(errors_total[5m])", at=NOW)) == 0.0


def test_offset_moves_the_window_back(tickets: Store) -> None:
    assert single(evaluate("increase(tickets_sold_total[5m] offset 5m)", at=NOW)) == 107.0


def test_an_instant_counter_selector_is_its_cumulative_total_at_the_instant(
    tickets: Store,
) -> None:
    assert single(evaluate("tickets_sold_total", at=NOW)) == 112.0
    # 5 minutes earlier (11:55:30): the increments of minutes 0 and 4 had not happened yet
    assert single(evaluate("tickets_sold_total offset 5m", at=NOW)) == 107.0
    assert single(evaluate("tickets_sold_total", at=NOW - timedelta(minutes=5))) == 107.0


def test_a_counter_created_after_the_instant_is_absent(store: Store) -> None:
    store.counter("nft_minted_total", API, created=NOW - timedelta(minutes=2)).add(0, 1)
    assert single(evaluate("nft_minted_total", at=NOW)) == 1.0
    assert evaluate("nft_minted_total offset 10m", at=NOW) == Vector([])


@pytest.fixture
def queue(store: Store) -> Store:
    # minute 0: 5 then 7; minute 3: 1; minute 6: 100 (outside [5m])
    store.gauge("queue_size", {"service": "queue", "queue": "mint"}, m0=[5, 7], m3=[1], m6=[100])
    return store


@pytest.mark.parametrize(
    ("function", "expected"),
    [
        ("avg_over_time", 13 / 3),
        ("min_over_time", 1.0),
        ("max_over_time", 7.0),
        ("sum_over_time", 13.0),
        ("count_over_time", 3.0),
        ("last_over_time", 7.0),
    ],
)
def test_over_time_functions_fold_the_gauge_samples_of_the_window(
    queue: Store, function: str, expected: float
) -> None:
    assert single(evaluate(f"{function}(queue_size[5m])", at=NOW)) == pytest.approx(expected)


def test_an_instant_gauge_selector_is_its_last_value_within_five_minutes(queue: Store) -> None:
    assert single(evaluate("queue_size", at=NOW)) == 7.0
    assert single(evaluate("queue_size", at=NOW + timedelta(minutes=4))) == 7.0
    assert evaluate("queue_size", at=NOW + timedelta(minutes=5)) == Vector([])
    assert single(evaluate("queue_size offset 2m", at=NOW)) == 1.0


@pytest.fixture
def users(store: Store) -> Store:
    store.gauge("active_users", {"service": "api"}, m0=[10])
    store.gauge("active_users", {"service": "web"}, m0=[30])
    store.gauge("active_users", {"service": "scanning"}, m0=[-5])
    return store


@pytest.mark.parametrize(
    ("aggregation", "expected"),
    [("sum", 35.0), ("avg", 35 / 3), ("min", -5.0), ("max", 30.0), ("count", 3.0)],
)
def test_aggregations_fold_all_series_into_one(
    users: Store, aggregation: str, expected: float
) -> None:
    result = evaluate(f"{aggregation}(active_users)", at=NOW)
    assert isinstance(result, Vector)
    assert [(s.labels, s.value) for s in result.samples] == [({}, pytest.approx(expected))]


def test_aggregation_by_keeps_the_named_labels_and_without_drops_them(store: Store) -> None:
    for service, queue, size in [("a", "x", 1), ("a", "y", 2), ("b", "x", 4)]:
        store.gauge("queue_size", {"service": service, "queue": queue}, m0=[size])
    assert values(evaluate("sum by (service) (queue_size)", at=NOW)) == {
        (("service", "a"),): 3.0,
        (("service", "b"),): 4.0,
    }
    assert values(evaluate("max without (service) (queue_size)", at=NOW)) == {
        (("queue", "x"),): 4.0,
        (("queue", "y"),): 2.0,
    }


def test_abs_and_clamp_change_each_sample(users: Store) -> None:
    assert values(evaluate("abs(active_users)", at=NOW))[(("service", "scanning"),)] == 5.0
    assert sorted(values(evaluate("clamp_min(active_users, 0)", at=NOW)).values()) == [0, 10, 30]
    assert sorted(values(evaluate("clamp_max(active_users, 20)", at=NOW)).values()) == [-5, 10, 20]


def test_label_matchers_select_series_exactly_by_regex_and_by_absence(users: Store) -> None:
    store = users
    store.gauge("active_users", {}, m0=[1000])
    assert single(evaluate('active_users{service="web"}', at=NOW)) == 30.0
    assert sorted(values(evaluate('active_users{service=~"a.*|w.*"}', at=NOW)).values()) == [10, 30]
    assert sorted(values(evaluate('active_users{service!~"a.*"}', at=NOW)).values()) == [
        -5,
        30,
        1000,
    ]
    assert single(evaluate('active_users{service=""}', at=NOW)) == 1000.0
    assert len(values(evaluate('active_users{service!="web"}', at=NOW))) == 3
    assert evaluate('active_users{service=~"ap"}', at=NOW) == Vector([])  # anchored


def test_arithmetic_between_scalars_and_vectors(users: Store) -> None:
    assert evaluate("2 * 3 + 1", at=NOW) == Scalar(7.0)
    assert values(evaluate('active_users{service="api"} * 2 + 1', at=NOW)) == {
        (("service", "api"),): 21.0
    }
    assert values(evaluate('100 - active_users{service="api"}', at=NOW)) == {
        (("service", "api"),): 90.0
    }
    assert values(evaluate('-active_users{service="api"}', at=NOW)) == {
        (("service", "api"),): -10.0
    }


def test_vectors_match_on_identical_label_sets(store: Store) -> None:
    store.counter("payment_failure_total", {"service": "payment"}).add(0, 5)
    store.counter("payment_success_total", {"service": "payment"}).add(0, 15)
    store.counter("payment_success_total", {"service": "order"}).add(0, 10)
    result = evaluate(
        "increase(payment_failure_total[5m]) / increase(payment_success_total[5m]) * 100", at=NOW
    )
    assert values(result) == {(("service", "payment"),): pytest.approx(100 / 3)}


def test_on_and_ignoring_choose_the_labels_that_match(store: Store) -> None:
    store.counter("errors_total", {"service": "api", "type": "db"}).add(0, 2)
    store.counter("errors_total", {"service": "web", "type": "db"}).add(0, 3)
    store.counter("tickets_sold_total", {"service": "api"}).add(0, 10)
    on = evaluate(
        "increase(errors_total[5m]) / on (service) increase(tickets_sold_total[5m])", at=NOW
    )
    assert values(on) == {(("service", "api"),): 0.2}
    ignoring = evaluate(
        "increase(errors_total[5m]) / ignoring (type) increase(tickets_sold_total[5m])", at=NOW
    )
    assert values(ignoring) == {(("service", "api"),): 0.2}
    plain = evaluate("increase(errors_total[5m]) / increase(tickets_sold_total[5m])", at=NOW)
    assert plain == Vector([])


def test_duplicate_series_in_a_match_group_is_an_error_of_that_expression_only(
    store: Store,
) -> None:
    store.counter("errors_total", {"service": "api", "type": "db"}).add(0, 2)
    store.counter("errors_total", {"service": "api", "type": "net"}).add(0, 3)
    store.counter("tickets_sold_total", {"service": "api"}).add(0, 10)
    bad, good = evaluate_many(
        [
            parse("increase(tickets_sold_total[5m]) / on (service) increase(errors_total[5m])"),
            parse("sum(increase(errors_total[5m]))"),
        ],
        at=NOW,
    )
    assert isinstance(bad, RuleError)
    assert "duplicate series for the match group {'service': 'api'}" in bad.message
    assert good == Vector([Sample({}, 5.0)])


@pytest.fixture
def latency(store: Store) -> Store:
    # cumulative bucket increments in minute 0: <=100: 10, <=250: 30, <=500: 40, +Inf: 40
    for le, count in [("100", 10), ("250", 30), ("500", 40), ("+Inf", 40)]:
        store.counter("db_query_duration_ms_bucket", {"service": "api", "le": le}).add(0, count)
    return store


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        (0.5, 175.0),  # rank 20 in (100, 250]: 100 + 150 * (20 - 10) / 20
        (0.99, 490.0),  # rank 39.6 in (250, 500]: 250 + 250 * 9.6 / 10
        (0.1, 40.0),  # rank 4 in (0, 100]: 0 + 100 * 4 / 10
        (1.0, 500.0),
        (0.0, 0.0),
        (1.5, math.inf),
        (-1, -math.inf),
    ],
)
def test_histogram_quantile_interpolates_within_buckets_as_prometheus(
    latency: Store, q: float, expected: float
) -> None:
    text = f"histogram_quantile({q}, sum by (le) (increase(db_query_duration_ms_bucket[5m])))"
    assert single(evaluate(text, at=NOW)) == pytest.approx(expected)


def test_histogram_quantile_in_the_infinite_bucket_is_the_highest_finite_bound(
    store: Store,
) -> None:
    for le, count in [("100", 10), ("+Inf", 20)]:
        store.counter("db_query_duration_ms_bucket", {"service": "api", "le": le}).add(0, count)
    text = "histogram_quantile(0.9, increase(db_query_duration_ms_bucket[5m]))"
    assert evaluate(text, at=NOW) == Vector([Sample({"service": "api"}, 100.0)])


def test_histogram_quantile_without_an_infinite_bucket_or_observations_is_nan(
    store: Store,
) -> None:
    store.counter("db_query_duration_ms_bucket", {"service": "a", "le": "100"}).add(0, 10)
    store.counter("db_query_duration_ms_bucket", {"service": "b", "le": "100"})
    store.counter("db_query_duration_ms_bucket", {"service": "b", "le": "+Inf"})
    result = evaluate("histogram_quantile(0.5, rate(db_query_duration_ms_bucket[5m]))", at=NOW)
    quantiles = values(result)
    assert len(quantiles) == 2
    assert all(math.isnan(value) for value in quantiles.values())


def test_division_by_zero_gives_infinities_and_nan_as_in_promql(users: Store) -> None:
    assert evaluate("1 / 0", at=NOW) == Scalar(math.inf)
    assert evaluate("-1 / 0", at=NOW) == Scalar(-math.inf)
    nan = evaluate("0 / 0", at=NOW)
    assert isinstance(nan, Scalar) and math.isnan(nan.value)
    result = values(evaluate("active_users / 0", at=NOW))
    assert result[(("service", "web"),)] == math.inf
    assert result[(("service", "scanning"),)] == -math.inf
    zeros = values(evaluate("(active_users - active_users) / 0", at=NOW))
    assert zeros and all(math.isnan(value) for value in zeros.values())


def test_no_data_is_an_empty_vector_through_every_function(db: None, frozen: object) -> None:
    for text in [
        "queue_size",
        "sum(rate(tickets_sold_total[5m]))",
        "sum(increase(refunds_processed_total[1h])) / sum(increase(tickets_sold_total[1h]))",
        "histogram_quantile(0.95, sum by (le) (rate(db_query_duration_ms_bucket[5m])))",
        "max_over_time(queue_size[1h]) * 2",
    ]:
        assert evaluate(text, at=NOW) == Vector([]), text


def test_a_week_offset_reads_five_minute_rollups_rounded_to_their_periods(store: Store) -> None:
    # at NOW - 1w the window [1h] is 11:01-12:01; buckets are long gone, so 5-minute rollups
    # starting 11:00 ... 12:00 are read (the start rounds down, the end up to whole periods)
    series = store.series("revenue_total_cents", {"service": "payment", "type": "ticket"})
    week = NOW.replace(second=0, minute=0) - timedelta(weeks=1)  # 12:00 a week ago
    for minutes_before, cents in [(65, 1), (60, 10), (30, 20), (0, 40), (-5, 1000)]:
        store.rollup(series, 300, week - timedelta(minutes=minutes_before), [cents])
    result = evaluate("sum(increase(revenue_total_cents[1h] offset 1w))", at=NOW)
    assert result == Vector([Sample({}, 70.0)])


def test_a_long_window_reads_rollups_for_the_settled_past_and_buckets_for_the_last_hour(
    store: Store,
) -> None:
    series = store.series("tickets_sold_total", {"service": "api"})
    three_hours_ago = NOW.replace(second=0, minute=0) - timedelta(hours=3)
    store.rollup(series, 300, three_hours_ago, [10])
    store.bucket(series, three_hours_ago, [999])  # folded into that rollup: not read twice
    store.rollup(series, 300, NOW.replace(second=0) - timedelta(minutes=30), [555])  # unsettled
    store.bucket(series, NOW.replace(second=0) - timedelta(minutes=30), [2])
    store.bucket(series, NOW.replace(second=0), [1])
    assert single(evaluate("increase(tickets_sold_total[1d])", at=NOW)) == 13.0


def test_an_old_window_within_bucket_retention_still_reads_buckets(store: Store) -> None:
    series = store.series("tickets_sold_total", {"service": "api"})
    day = NOW.replace(second=0) - timedelta(days=1)
    store.bucket(series, day, [4])
    store.bucket(series, day - timedelta(minutes=5), [8])
    assert single(evaluate("increase(tickets_sold_total[5m] offset 1d)", at=NOW)) == 4.0
