"""Label regexes (issue #10, item 2): RE2, fully anchored, linear in the label value's length."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest
from rest_framework.test import APIClient

from alerts.language import RuleSyntaxError, parse
from alerts.language.regex import RegexError, compile_label_regex, regex_problem
from alerts.language.tree import Selector
from alerts.models.silences import matcher_matches
from metrics_app.models import Series
from tests.alerts.language.conftest import MINUTE0, NOW, Store

QUERY = "/api/v1/monitoring/query"
LONG = 10_000
LOOK_AROUND = "look-ahead and look-behind are not supported (RE2 syntax)"


@contextmanager
def hard_deadline(seconds: int) -> Iterator[None]:
    """Fail instead of hanging: a backtracking match is interrupted by SIGALRM (sre checks it)."""

    def expire(signum: int, frame: object) -> None:
        raise TimeoutError(f"still matching after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def test_thirty_repetitions_match_stored_ten_thousand_character_values_in_under_a_second(
    store: Store, viewer_client: APIClient
) -> None:
    """The probe's pattern at k=30 (k=10 took 3.7 s and k=13 stalled two workers for 57 s)."""
    queues = [*(("q" * LONG + str(i), 1.0) for i in range(5)), ("x" * LONG + "#", 7.0)]
    for index, (queue, value) in enumerate(queues):
        series = Series.objects.create(
            name="queue_size",
            family="queue_size",
            labels={"service": "queue", "queue": queue},
            # the key column holds 2,000 characters; matchers read the stored labels themselves
            labels_key=f"long-{index}",
            kind="gauge",
            value=value,
            value_at=NOW,
            created_at=NOW - timedelta(days=1),
            updated_at=NOW,
        )
        store.bucket(series, MINUTE0, [value])
    expression = 'queue_size{queue=~"' + ".*" * 30 + '#"}'
    # the grammar is compiled once per process: not what is measured
    assert viewer_client.post(QUERY, {"expression": "1"}, format="json").status_code == 200

    with hard_deadline(10):
        started = time.perf_counter()
        response = viewer_client.post(QUERY, {"expression": expression}, format="json")
        elapsed = time.perf_counter() - started

    assert response.status_code == 200, response.json()
    assert [(s["labels"]["queue"][-2:], s["value"]) for s in response.json()["result"]] == [
        ("x#", 7)
    ]
    assert elapsed < 1.0


def test_a_silence_matcher_with_the_same_pattern_is_as_fast() -> None:
    matcher = {"name": "queue", "op": "=~", "value": ".*" * 30 + "#"}
    with hard_deadline(10):
        started = time.perf_counter()
        found = [matcher_matches(matcher, "y" * LONG + end) for end in ("", "#", "#y")]
        elapsed = time.perf_counter() - started
    assert found == [False, True, False]
    assert elapsed < 1.0


@pytest.mark.parametrize("pattern", ["(a+)+", "(a|aa)*b", "(.*)*x", "(x+x+)+y"])
def test_nested_repetition_that_re2_makes_safe_is_accepted(pattern: str) -> None:
    selector = parse(f'queue_size{{queue=~"{pattern}"}}')
    assert isinstance(selector, Selector)
    assert selector.matchers[0].value == pattern
    assert regex_problem(pattern) is None


@pytest.mark.parametrize(
    ("pattern", "reason", "column"),
    [
        # (where the mistake is in the expression below: the pattern starts at column 20)
        (r"(a)\\1", "back-references are not supported (RE2 syntax) at character 4", 23),
        ("pay(?=ment)", f"{LOOK_AROUND} at character 4", 23),
        ("(?<!x)y", f"{LOOK_AROUND} at character 1", 20),
        ("a**", "bad repetition operator: ** at character 2", 21),
        ("x{1001}", "invalid repetition size: {1001} at character 2", 21),
        ("pay(", "missing ): pay(", 19),
    ],
)  # fmt: skip
def test_what_re2_cannot_do_is_refused_with_the_reason_and_its_position(
    pattern: str, reason: str, column: int
) -> None:
    with pytest.raises(RuleSyntaxError) as caught:
        parse(f'queue_size{{queue=~"{pattern}"}}')
    shown = pattern.replace("\\\\", "\\")
    assert caught.value.message == f"regular expression {shown!r}: {reason}"
    assert caught.value.column == column


def test_a_pattern_whose_automaton_is_huge_is_refused_as_too_complex() -> None:
    with pytest.raises(RegexError) as caught:
        compile_label_regex("(.?){1000}a{1000}")
    assert caught.value.reason.startswith("too complex (9004 automaton steps; the limit is 4096)")


@pytest.mark.parametrize(
    ("pattern", "value", "expected"),
    [
        ("pay", "payment", False),  # anchored at the end
        ("ment", "payment", False),  # and at the start
        ("pay.*", "payment", True),
        ("a|b", "ab", False),  # the anchors hold across alternatives
        ("a|b", "b", True),
        ("(?i)PAY.*", "payment", True),
        ("é.", "éa", True),  # code points, not bytes
        ("a.b", "a\nb", True),  # "." matches a newline, as in Prometheus 3
        ("", "", True),
        ("x", "", False),
    ],
)
def test_regexes_match_the_whole_value_as_promql_does(
    pattern: str, value: str, expected: bool
) -> None:
    assert compile_label_regex(pattern).matches(value) is expected


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        ("a\x00", "contains a NUL character at character 2"),
        ("\ud800x", "contains a lone surrogate (not valid Unicode) at character 1"),
        ("a" * 257, "longer than 256 characters"),
    ],
)
def test_patterns_that_cannot_be_stored_or_are_too_long_are_refused(
    pattern: str, reason: str
) -> None:
    assert regex_problem(pattern) == reason
