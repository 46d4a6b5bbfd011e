"""The parser and the type checker: what is accepted, and where each mistake is reported."""

from __future__ import annotations

import time

import pytest

from alerts.language import RuleError, RuleSyntaxError, RuleTypeError, check, parse
from alerts.language.tree import Aggregation, BinaryOp, Call, Matcher, NumberLiteral, Selector

pytestmark = pytest.mark.django_db


def test_a_selector_parses_with_every_matcher_kind_window_and_offset() -> None:
    tree = parse(
        'rate(errors_total{service="api", type!="x", type=~"5..", service!~"test.*"}[5m] offset 1w)'
    )
    assert isinstance(tree, Call) and tree.func == "rate"
    selector = tree.args[0]
    assert selector == Selector(
        "errors_total",
        (
            Matcher("service", "=", "api"),
            Matcher("type", "!=", "x"),
            Matcher("type", "=~", "5.."),
            Matcher("service", "!~", "test.*"),
        ),
        window=300,
        offset=7 * 86400,
    )


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30), ("5m", 300), ("1h", 3600), ("1d", 86400), ("1w", 604800), ("1h30m", 5400)],
)
def test_windows_are_read_in_seconds(text: str, seconds: int) -> None:
    tree = parse(f"increase(tickets_sold_total[{text}])")
    assert isinstance(tree, Call) and isinstance(tree.args[0], Selector)
    assert tree.args[0].window == seconds


def test_aggregations_take_by_or_without_before_or_after_the_argument() -> None:
    before = parse("sum by (service) (rate(tickets_sold_total[5m]))")
    after = parse("sum(rate(tickets_sold_total[5m])) by (service)")
    assert before == after
    assert isinstance(before, Aggregation) and before.grouping == ("service",)
    without = parse("max without (queue) (queue_size)")
    assert isinstance(without, Aggregation)
    assert without.without is True and without.grouping == ("queue",)


def test_multiplication_binds_tighter_than_addition_and_parentheses_override() -> None:
    tree = parse("1 + 2 * 3")
    assert isinstance(tree, BinaryOp) and isinstance(tree.rhs, BinaryOp)
    assert tree.op == "+" and tree.rhs.op == "*"
    grouped = parse("(1 + 2) * 3")
    assert isinstance(grouped, BinaryOp) and isinstance(grouped.lhs, BinaryOp)
    assert grouped.op == "*" and grouped.lhs.op == "+"


def test_numbers_include_decimals_exponents_negative_values_inf_and_nan() -> None:
    assert parse("-1.5e3") == NumberLiteral(-1500.0)
    assert parse(".5") == NumberLiteral(0.5)
    assert parse("Inf") == NumberLiteral(float("inf"))
    assert check("NaN").type == "scalar"


def test_vector_matching_keywords_are_parsed_on_the_operator() -> None:
    tree = parse("sum by (service) (queue_size) / on (service) sum by (service) (active_users)")
    assert isinstance(tree, BinaryOp) and tree.matching is not None
    assert tree.matching.on is True and tree.matching.labels == ("service",)
    tree = parse("queue_size / ignoring (queue) active_users")
    assert isinstance(tree, BinaryOp) and tree.matching is not None
    assert tree.matching.on is False and tree.matching.labels == ("queue",)


def test_keywords_inside_longer_names_stay_names() -> None:
    info = check("sum(marketplace_active_listings) by (service)")
    assert info.metrics == ["marketplace_active_listings"]


def test_check_reports_type_metrics_and_unknown_label_warnings() -> None:
    info = check('sum(rate(errors_total{colour="red"}[5m])) / sum(rate(tickets_sold_total[5m]))')
    assert info.type == "vector"
    assert info.metrics == ["errors_total", "tickets_sold_total"]
    assert info.warnings == ["label 'colour' is not a label of errors_total (known: service, type)"]
    assert check("1 + 2").type == "scalar"


def test_histogram_bucket_series_accept_the_le_label() -> None:
    info = check(
        'histogram_quantile(0.95, sum by (le) (rate(db_query_duration_ms_bucket{le="100"}[5m])))'
    )
    assert info.warnings == []
    assert info.metrics == ["db_query_duration_ms_bucket"]


def _error(text: str) -> RuleError:
    with pytest.raises(RuleError) as caught:
        parse(text)
    return caught.value


def test_a_syntax_error_names_the_position_and_the_expected_tokens() -> None:
    error = _error("rate(tickets_sold_total[5m)")
    assert isinstance(error, RuleSyntaxError)
    assert (error.line, error.column, error.position) == (1, 27, 26)
    assert error.expected == ["]"]
    assert error.as_dict() == {
        "kind": "syntax",
        "message": "unexpected ')'",
        "line": 1,
        "column": 27,
        "position": 26,
        "expected": ["]"],
    }


def test_positions_count_lines_and_columns_from_one() -> None:
    error = _error("sum(\n  queue_size\n  ) +")
    assert (error.line, error.column) == (3, 6)
    assert error.message == "unexpected end of input"


def test_an_unexpected_character_is_reported_where_it_is() -> None:
    error = _error("queue_size @ 5")
    assert error.message == "unexpected character '@'"
    assert error.column == 12


def test_an_unknown_metric_is_an_error_with_a_suggestion() -> None:
    error = _error("rate(ticket_sold_total[5m])")
    assert isinstance(error, RuleTypeError)
    assert error.message == "unknown metric 'ticket_sold_total'; did you mean 'tickets_sold_total'?"
    assert error.column == 6


def test_an_unknown_function_is_an_error_listing_the_functions() -> None:
    error = _error("irate(tickets_sold_total[5m])")
    assert error.message == "unknown function 'irate'"
    assert "rate" in error.expected and "histogram_quantile" in error.expected


@pytest.mark.parametrize(
    ("text", "message", "column"),
    [
        (
            "rate(tickets_sold_total)",
            "argument 1 of rate() needs a range vector, got an instant vector; "
            "add a window such as [5m] to the selector",
            6,
        ),
        (
            "sum(tickets_sold_total[5m])",
            "sum() needs an instant vector, got a range vector; wrap the range in a function "
            "such as rate() or avg_over_time()",
            5,
        ),
        (
            "tickets_sold_total[5m]",
            "a range vector cannot be the result; wrap it in a function such as rate()",
            1,
        ),
        (
            "queue_size[5m] * 2",
            "a range vector cannot be used with '*'; wrap it in a function such as rate()",
            1,
        ),
        ("clamp_min(queue_size)", "clamp_min() takes 2 arguments, got 1", 1),
        ("rate(tickets_sold_total[5m], 1)", "rate() takes 1 argument, got 2", 1),
        ("sum(queue_size, 1)", "sum() takes exactly one argument, got 2", 1),
        ("sum(1)", "sum() needs an instant vector, got a scalar", 5),
        ("1 + on (service) 2", "on(...) is only allowed between two vectors", 3),
        (
            "rate(queue_size[5m])",
            "rate() needs a counter, but queue_size is a gauge; use avg_over_time(), "
            "max_over_time() or last_over_time() for a gauge",
            6,
        ),
        (
            "max_over_time(errors_total[5m])",
            "max_over_time() needs a gauge, but errors_total is a counter; use rate() or "
            "increase() for a counter",
            15,
        ),
        (
            "http_request_duration_ms",
            "http_request_duration_ms is a histogram: select one of http_request_duration_ms_bucket"
            ", http_request_duration_ms_sum, http_request_duration_ms_count",
            1,
        ),
        (
            "abs by (service) (queue_size)",
            "by/without go with an aggregation (avg, count, max, min, sum), not with abs()",
            1,
        ),
    ],
)
def test_type_errors_say_what_is_wrong_and_where(text: str, message: str, column: int) -> None:
    error = _error(text)
    assert isinstance(error, RuleTypeError)
    assert (error.message, error.column) == (message, column)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("increase(tickets_sold_total[36d])", "window 36d is longer than the maximum of 35 days"),
        ("tickets_sold_total offset 6w", "offset 6w is longer than the maximum of 35 days"),
        ("increase(tickets_sold_total[0m])", "a window must be longer than zero"),
        (
            'queue_size{queue=~"(a)\\\\1"}',
            "regular expression '(a)\\\\1': back-references are not supported (RE2 syntax) "
            "at character 4",
        ),
        ('queue_size{queue=~"("}', "regular expression '(': missing ): ("),
        ('queue_size{queue="\\q"}', "unknown escape \\q in string"),
        ("", "the expression is empty"),
        ("x" * 1001, "the expression is longer than 1000 characters"),
        ("(" * 33 + "1" + ")" * 33, "brackets nested deeper than 32 levels"),
        ("-" * 70 + "queue_size", "the expression is nested deeper than 64 levels"),
    ],
)
def test_absurd_input_is_refused_with_a_reason(text: str, message: str) -> None:
    assert _error(text).message == message


def test_thirty_two_levels_of_brackets_are_still_accepted() -> None:
    assert parse("(" * 32 + "1" + ")" * 32) == NumberLiteral(1.0)


def test_non_text_is_refused() -> None:
    with pytest.raises(RuleSyntaxError, match="must be text"):
        parse(42)  # type: ignore[arg-type]


def test_worst_case_input_is_rejected_within_100_ms() -> None:
    parse("1")  # the grammar is compiled once per process
    hostile = [
        "(" * 1000,
        "sum(" * 250,
        "1+" * 499 + "+",
        "-" * 999 + "@",
        '{"' * 500,
        "queue_size{" + 'a="b",' * 140 + "=",
    ]
    for text in hostile:
        # best of three: the machine is shared, the parser's cost is what is measured
        assert min(_rejection_time(text) for _ in range(3)) < 0.1, text[:20]


def _rejection_time(text: str) -> float:
    started = time.perf_counter()
    with pytest.raises(RuleError):
        parse(text)
    return time.perf_counter() - started
