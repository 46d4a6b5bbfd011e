"""The traffic model: a day's totals in the expected range, the weekly cycle, incident effects."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from demo.scenario import parse_scenario
from demo.traffic import (
    PAYMENTS,
    WEEKLY,
    Effects,
    Histogram,
    Latency,
    bucket_counts,
    effects_at,
    interval_traffic,
    shape,
)
from metrics_app.catalogue import HTTP_MS

MONDAY = datetime(2026, 11, 23, tzinfo=UTC)


def day_totals(day: datetime, seed: int = 1, effects: Effects | None = None) -> dict[str, float]:
    """Counter totals over one simulated day at one-minute ticks."""
    rng = random.Random(seed)
    totals: dict[str, float] = {}
    for minute in range(24 * 60):
        at = day + timedelta(minutes=minute)
        traffic = interval_traffic(at, 60, effects or Effects(), rng)
        for (metric, _), value in traffic.counters.items():
            totals[metric] = totals.get(metric, 0.0) + value
    return totals


def expected_payments(day: datetime) -> float:
    return sum(PAYMENTS * shape(day + timedelta(minutes=m)) for m in range(24 * 60))


def test_a_simulated_day_sells_what_the_model_expects_within_five_percent() -> None:
    totals = day_totals(MONDAY)
    payments = totals["payment_success_total"] + totals["payment_failure_total"]
    assert payments == pytest.approx(expected_payments(MONDAY), rel=0.05)
    # Monday: about 17,700 attempts at 0.85 of an ordinary day's busiest rate, mostly paid.
    assert 15_000 < payments < 20_000
    assert totals["payment_failure_total"] / payments == pytest.approx(0.02, abs=0.005)
    assert totals["tickets_sold_total"] == 2 * totals["payment_success_total"]
    refunds = totals["refunds_processed_total"] / totals["tickets_sold_total"]
    assert refunds == pytest.approx(0.015, abs=0.004)


def test_the_daily_shape_is_quiet_at_four_and_busy_at_sixteen_utc() -> None:
    assert shape(MONDAY.replace(hour=4)) == pytest.approx(0.3 * WEEKLY[0])
    assert shape(MONDAY.replace(hour=16)) == pytest.approx(1.0 * WEEKLY[0])


def test_the_weekly_cycle_makes_saturday_busier_than_monday() -> None:
    monday = day_totals(MONDAY)["tickets_sold_total"]
    saturday = day_totals(MONDAY + timedelta(days=5))["tickets_sold_total"]
    assert saturday / monday == pytest.approx(WEEKLY[5] / WEEKLY[0], rel=0.05)


def test_incidents_change_the_traffic_while_they_last() -> None:
    scenario = parse_scenario(
        "incidents:\n"
        "  - {kind: payment_failures, at: 0s, duration: 10m, rate: 0.5}\n"
        "  - {kind: traffic_surge, at: 0s, duration: 10m, users: 14000}\n"
        "  - {kind: queue_backup, at: 0s, duration: 10m, queue: email, size: 3000}\n"
    )
    during, after = effects_at(scenario.incidents, 120), effects_at(scenario.incidents, 700)
    assert (during.payment_failure, during.users, during.queues) == (0.5, 14000, {"email": 3000})
    assert (after.payment_failure, after.users, after.queues) == (0.02, None, {})
    assert effects_at(scenario.incidents, 30).queues == {"email": 1500}  # filling up
    traffic = interval_traffic(MONDAY.replace(hour=4), 60, during, random.Random(3))
    users = next(v for (m, _), v in traffic.gauges.items() if m == "active_users")
    assert users == pytest.approx(14000, rel=0.2)
    emails = next(v for (m, labels), v in traffic.gauges.items() if ("queue", "email") in labels)
    assert emails == 3000


def test_bucket_counts_follow_the_distribution_and_add_up() -> None:
    counts = bucket_counts(Histogram(1000, Latency(45, 0.6)), HTTP_MS)
    assert sum(counts) == 1000 and len(counts) == len(HTTP_MS) + 1
    below_50 = sum(counts[: HTTP_MS.index(50.0) + 1])
    assert below_50 == pytest.approx(570, abs=15)  # the log-normal's CDF at 50 ms
