"""A malformed rule test file: the line and the problem, never a traceback."""

from __future__ import annotations

from typing import Any

import pytest

from alerts.rules.testing.spec import MAX_POINTS, SpecError, TooLarge, read_test_file

pytestmark = pytest.mark.django_db

RULE = """rules:
  - name: Queue deep
    expression: max(queue_size)
    threshold: 1000
    for: 5m
"""


def problem(text: str) -> tuple[int, str]:
    with pytest.raises(SpecError) as caught:
        read_test_file(text, name="t.yaml")
    return caught.value.line, caught.value.message


def test_yaml_syntax_errors_give_their_line() -> None:
    line, message = problem(RULE + "tests:\n  - name: [unclosed\n")
    assert line == 8 and message.startswith("not valid YAML")
    assert "from line 7" in message


@pytest.mark.parametrize(
    ("tests", "line", "words"),
    [
        ("tests:\n  - alert_rule_tests: []\n", 7, "unknown key 'alert_rule_tests'"),
        ("tests: 5\n", 6, "tests: expected a list"),
        ("tests:\n  - name: t\n", 7, "'alert_rule_test' is required"),
        (
            "tests:\n  - input_series:\n      - series: 'queue_size{queue=\"a\"}'\n"
            "        values: '1 2 x'\n    alert_rule_test: []\n",
            9,
            "values: 'x' is not a value",
        ),
        (
            "tests:\n  - input_series:\n      - series: 'no_such_metric'\n        values: '1'\n"
            "    alert_rule_test: []\n",
            8,
            "'no_such_metric' is not a metric of the catalogue",
        ),
        (
            "tests:\n  - input_series:\n      - series: 'queue_size{colour=\"red\"}'\n"
            "        values: '1'\n    alert_rule_test: []\n",
            8,
            "labels.colour: not allowed for queue_size",
        ),
        (
            "tests:\n  - input_series:\n      - series: 'queue_size{queue=~\"a.*\"}'\n"
            "        values: '1'\n    alert_rule_test: []\n",
            8,
            "labels are given with =",
        ),
        (
            "tests:\n  - input_series:\n      - series: 'queue_size'\n        values: '1'\n"
            "        count: 3\n    alert_rule_test: []\n",
            10,
            "count: only for histograms and summaries",
        ),
        (
            "tests:\n  - alert_rule_test:\n      - eval_time: 5x\n        alertname: Queue deep\n",
            8,
            "eval_time: Expected a duration",
        ),
        (
            "tests:\n  - alert_rule_test:\n      - eval_time: 5m\n        alertname: Other\n",
            9,
            "alertname: 'Other' is not a rule under test",
        ),
        (
            "tests:\n  - alert_rule_test:\n      - eval_time: 5m\n        alertname: Queue deep\n"
            "        exp_alerts:\n          - exp_state: resolved\n",
            11,
            "exp_state: 'resolved'",
        ),
        (
            "tests:\n  - evaluate_from: 10m\n    alert_rule_test:\n      - eval_time: 5m\n"
            "        alertname: Queue deep\n",
            9,
            "eval_time: before evaluate_from",
        ),
    ],
)
def test_each_problem_names_its_line(tests: str, line: int, words: str) -> None:
    found_line, message = problem(RULE + tests)
    assert words in message
    assert found_line == line


def test_an_inline_rule_is_checked_as_the_api_checks_it() -> None:
    line, message = problem(
        "rules:\n  - name: Bad\n    expression: max(queue_size\n    threshold: 1\ntests: []\n"
    )
    assert line == 3 and message.startswith("rules: expression:")
    line, message = problem(
        "rules:\n  - name: Bad\n    expression: x\n    colour: red\ntests: []\n"
    )
    assert (line, message.split(" (")[0]) == (4, "unknown key 'colour'")


def test_a_stored_rule_must_exist_and_have_an_expression(make_rule: Any) -> None:
    assert problem("rules: [nope]\ntests: []\n") == (1, "rules: no rule has the slug 'nope'")
    make_rule(name="Engine", builtin=True, expression="")
    line, message = problem("rules:\n  - engine\ntests: []\n")
    assert line == 2 and "raised by the engine itself" in message


def test_the_size_and_point_limits_are_too_large_errors() -> None:
    with pytest.raises(TooLarge):
        read_test_file("#" * (100 * 1024 + 1))
    series = "      - series: 'queue_size{queue=\"q\"}'\n        values: '0+1x6000'\n"
    text = RULE + "tests:\n  - input_series:\n" + series * 2 + "    alert_rule_test: []\n"
    with pytest.raises(TooLarge) as caught:
        read_test_file(text)
    assert caught.value.line == 11
    assert f"more than {MAX_POINTS} input points" in caught.value.message


def test_too_many_cycles_is_refused_with_a_hint() -> None:
    text = (
        RULE
        + "tests:\n  - alert_rule_test:\n      - eval_time: 30d\n        alertname: Queue deep\n"
    )
    with pytest.raises(TooLarge, match="raise evaluate_from"):
        read_test_file(text)


def test_the_cycle_budget_is_for_the_whole_file() -> None:
    # 1,201 cycles each at 1m (20 hours): one test fits, two do not.
    test = "  - alert_rule_test:\n      - eval_time: 20h\n        alertname: Queue deep\n"
    assert len(read_test_file(RULE + "evaluation_interval: 1m\ntests:\n" + test).tests) == 1
    with pytest.raises(TooLarge, match="more than 2000 evaluations in the file") as caught:
        read_test_file(RULE + "evaluation_interval: 1m\ntests:\n" + test + test)
    assert caught.value.line == 11  # the second test
