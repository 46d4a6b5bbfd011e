"""Ingest input that used to give 500s (issue #10 item 7): a 400 naming the sample, nothing stored.

PostgreSQL refuses NUL in text and a lone surrogate cannot be encoded at all; a sum of finite
numbers can still overflow to infinity, within one request or on top of what is stored.
"""

from __future__ import annotations

from typing import Any

import pytest

from metrics_app.models import Bucket, Series
from tests.metrics_app.conftest import Push, stored

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clock")]

BIG = 1.7e308  # finite; two of them are not


def refusal(response: Any) -> dict[str, str]:
    assert response.status_code == 400, response.content[:300]
    return response.json()["details"]["samples"]


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("pay\x00ment", "labels.type: must not contain a NUL character"),
        ("\ud800", "labels.type: must not contain a lone surrogate (not valid Unicode)"),
        ("ok\udfffok", "labels.type: must not contain a lone surrogate (not valid Unicode)"),
    ],
)
def test_nul_or_a_lone_surrogate_in_a_label_value_is_refused_naming_it(
    push: Push, value: str, reason: str
) -> None:
    good = {"metric": "errors_total", "labels": {"type": "db"}, "value": 1}
    bad = {"metric": "errors_total", "labels": {"type": value}, "value": 1}
    assert refusal(push([good, bad])) == {"1": reason}
    assert Series.objects.count() == 0


@pytest.mark.parametrize("value", [["db"], {"a": "b"}, 3, None, True])
def test_a_label_value_that_is_not_text_is_refused_naming_it_however_often_it_repeats(
    push: Push, value: Any
) -> None:
    good = {"metric": "errors_total", "labels": {"type": "db"}, "value": 1}
    bad = {"metric": "errors_total", "labels": {"type": value}, "value": 1}
    assert refusal(push([good, bad, good, bad])) == {
        "1": "labels.type: expected text",
        "3": "labels.type: expected text",
    }
    assert Series.objects.count() == 0


def test_a_paired_surrogate_is_an_ordinary_character(push: Push) -> None:
    response = push([{"metric": "errors_total", "labels": {"type": "\U0001f600"}, "value": 1}])
    assert response.status_code == 202
    assert stored("errors_total", service="payment", type="\U0001f600") == 1


def test_counter_increments_overflowing_within_a_request_are_refused(push: Push) -> None:
    samples = [{"metric": "tickets_sold_total", "value": BIG}] * 2
    assert refusal(push(samples)) == {
        "1": 'value: the total of tickets_sold_total{service="payment"} would overflow'
    }
    assert Series.objects.count() == 0


def test_a_counter_increment_overflowing_the_stored_total_is_refused(push: Push) -> None:
    assert push([{"metric": "tickets_sold_total", "value": BIG}]).status_code == 202
    response = push(
        [{"metric": "errors_total", "value": 1}, {"metric": "tickets_sold_total", "value": BIG}]
    )
    assert refusal(response) == {
        "1": 'value: the total of tickets_sold_total{service="payment"} would overflow'
    }
    assert stored("tickets_sold_total", service="payment") == BIG
    assert not Series.objects.filter(name="errors_total").exists()


def test_histogram_observations_whose_sum_overflows_are_refused(push: Push) -> None:
    sample = {
        "metric": "http_request_duration_ms",
        "labels": {"route": "/x"},
        "observations": [BIG, BIG],
    }
    assert refusal(push([sample])) == {
        "0": 'value: the total of http_request_duration_ms_sum{route="/x",service="payment"} '
        "would overflow"
    }
    assert Series.objects.count() == 0


def test_a_histogram_sum_overflowing_the_stored_sum_is_refused(push: Push) -> None:
    sample = {
        "metric": "http_request_duration_ms",
        "labels": {"route": "/x"},
        "observations": [BIG],
    }
    assert push([sample]).status_code == 202
    assert refusal(push([sample])) == {
        "0": 'value: the total of http_request_duration_ms_sum{route="/x",service="payment"} '
        "would overflow"
    }
    assert stored("http_request_duration_ms_count", route="/x", service="payment") == 1
    assert Bucket.objects.get(series__name="http_request_duration_ms_sum").sum == BIG


def test_gauge_samples_whose_minute_sum_overflows_are_refused(push: Push) -> None:
    samples = [{"metric": "active_users", "value": BIG}, {"metric": "active_users", "value": BIG}]
    assert refusal(push(samples)) == {
        "1": 'value: the total of active_users{service="payment"} would overflow'
    }
    assert Series.objects.count() == 0


def test_an_error_quoting_a_lone_surrogate_is_still_sent(push: Push) -> None:
    """The message names the label as sent; JSON's \\u escape carries what UTF-8 cannot."""
    response = push([{"metric": "errors_total", "labels": {"\ud800": "x"}, "value": 1}])
    assert response.status_code == 400
    assert b"\\ud800" in response.content
    assert refusal(response)["0"].startswith("labels.\ud800: not allowed for errors_total")


def test_label_values_too_long_together_to_be_stored_are_refused(push: Push, settings: Any) -> None:
    """A raised METRICS_LABEL_VALUE_MAX_LENGTH cannot make the label set outgrow its column."""
    settings.METRICS_LABEL_VALUE_MAX_LENGTH = 5000
    long = {"metric": "errors_total", "labels": {"type": "x" * 1940}, "value": 1}
    assert refusal(push([long])) == {"0": "labels: longer than 1950 characters together"}
    fits = {"metric": "errors_total", "labels": {"type": "x" * 1900}, "value": 1}
    assert push([fits]).status_code == 202
