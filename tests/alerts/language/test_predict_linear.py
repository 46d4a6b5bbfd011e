"""predict_linear(v[d], t): PromQL's least-squares forecast, from the minute buckets (issue #16)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from alerts.language import RuleError, Vector, backtest, check, evaluate
from tests.alerts.language.conftest import MINUTE0, NOW, Store

QUEUE = {"service": "queue", "queue": "mint"}


@pytest.fixture
def growing(store: Store) -> Store:
    """A queue growing by 10 a minute: 1,000 at minute 0, 990 one minute earlier, ..."""
    store.gauge("queue_size", QUEUE, **{f"m{k}": [1000.0 - 10 * k] for k in range(60)})
    return store


def _single(result: object) -> float:
    assert isinstance(result, Vector) and len(result.samples) == 1, result
    return result.samples[0].value


def test_predict_linear_extends_the_line_t_seconds_past_the_evaluation_instant(
    growing: Store,
) -> None:
    # The samples sit at the end of each minute (last_at = minute start + 59 s); the line is
    # 1,000 at MINUTE0 + 59 s and grows 1/6 per second, so 2 hours after NOW (12:00:30):
    expected = 1000 + (NOW + timedelta(hours=2) - MINUTE0 - timedelta(seconds=59)).seconds / 6
    assert _single(evaluate("predict_linear(queue_size[30m], 7200)", at=NOW)) == pytest.approx(
        expected
    )
    # t = 0 is the line's value now, not at the last sample.
    assert _single(evaluate("predict_linear(queue_size[30m], 0)", at=NOW)) == pytest.approx(
        1000 - 29 / 6
    )


def test_a_rule_can_say_the_queue_passes_ten_thousand_within_two_hours(store: Store) -> None:
    # 4,000 and climbing 60 a minute: 7,600 in an hour, 11,200 in two.
    store.gauge("queue_size", QUEUE, **{f"m{k}": [4000.0 - 60 * k] for k in range(30)})
    expression = "max(predict_linear(queue_size[30m], 2 * 3600)) > 10000"
    with pytest.raises(RuleError):  # a comparison is not part of an expression: the rule's job
        check(expression)
    soon = _single(evaluate("max(predict_linear(queue_size[30m], 2 * 3600))", at=NOW))
    later = _single(evaluate("max(predict_linear(queue_size[30m], 3600))", at=NOW))
    assert later < 10_000 < soon


def test_a_flat_series_predicts_itself_and_one_sample_predicts_nothing(store: Store) -> None:
    store.gauge("queue_size", {"queue": "flat"}, **{f"m{k}": [42.0] for k in range(10)})
    store.gauge("queue_size", {"queue": "lonely"}, m3=[7.0])

    result = evaluate("predict_linear(queue_size[10m], 86400)", at=NOW)

    assert isinstance(result, Vector)
    assert {s.labels["queue"]: s.value for s in result.samples} == {"flat": 42.0}


def test_predict_linear_needs_a_gauge_range_and_a_scalar() -> None:
    for text, words in (
        ("predict_linear(tickets_sold_total[1h], 60)", "needs a gauge"),
        ("predict_linear(queue_size, 60)", "range vector"),
        ("predict_linear(queue_size[1h])", "takes 2 arguments"),
        ("predict_linear(queue_size[1h], queue_size)", "scalar"),
    ):
        with pytest.raises(RuleError) as caught:
            check(text)
        assert words in str(caught.value), text


def test_the_preview_replays_predict_linear_as_the_engine_computes_it(growing: Store) -> None:
    text = "predict_linear(queue_size[30m], 3600)"
    steps = backtest(text, start=NOW - timedelta(minutes=10), end=NOW, step=timedelta(minutes=5))
    assert [_single(result) for _, result in steps] == pytest.approx(
        [_single(evaluate(text, at=moment)) for moment, _ in steps]
    )


def test_with_a_prometheus_backend_predict_linear_asks_for_the_line_now_and_its_slope() -> None:
    from alerts.language import parse
    from alerts.language.backends import leaves_of, promql_group

    leaves = leaves_of([parse("max(predict_linear(queue_size[1h], 2 * 3600))")])

    assert sorted(str(leaf.func) for leaf in leaves) == ["deriv", "predict_linear"]
    assert promql_group(leaves) == (
        'label_replace(deriv(queue_size[3600s]), "tt_leaf", "0", "", "") or '
        'label_replace(predict_linear(queue_size[3600s], 0), "tt_leaf", "1", "", "")'
    )


def test_predict_linear_is_the_line_now_plus_its_slope_times_t(growing: Store) -> None:
    from alerts.language import parse
    from alerts.language.backends import EmbeddedBackend, leaves_of
    from alerts.language.evaluator import Evaluation
    from alerts.language.tree import Call, Selector

    tree = parse("predict_linear(queue_size[30m], 7200)")
    assert isinstance(tree, Call) and isinstance(tree.args[0], Selector)
    values = EmbeddedBackend().read(leaves_of([tree]), at=NOW)
    now_value = values.samples("predict_linear", tree.args[0])[0].value
    slope = values.samples("deriv", tree.args[0])[0].value

    assert slope == pytest.approx(1 / 6)  # 10 a minute
    assert _single(Evaluation(values).result(tree)) == pytest.approx(now_value + 7200 * slope)
