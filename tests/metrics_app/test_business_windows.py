"""Business-metric windows are exact: (t - W, t] in minute buckets, at any moment (#11 item 2).

A window of length W at instant t covers the minute buckets starting in (t - W, t]: the whole
minutes inside it plus the current, partial one. Its figure must equal the sum of the samples
stored in that span whatever the aggregation job has done so far.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.utils import timezone
from rest_framework.test import APIClient

from metrics_app.aggregation import aggregate_rollups, floor_to
from metrics_app.models import Bucket
from metrics_app.selectors import WINDOWS, business_window
from tests.metrics_app.conftest import Push

pytestmark = pytest.mark.django_db

MINUTE = timedelta(minutes=1)
# Half a minute past the hour: an instant at which (t - W) is not on a minute boundary.
T0 = datetime(2026, 11, 29, 11, 52, 30, tzinfo=UTC)


@pytest.fixture
def clock() -> Iterator[Any]:
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


def sell(push: Push, count: int, at: datetime | None = None) -> None:
    sample: dict[str, Any] = {"metric": "tickets_sold_total", "value": count}
    if at is not None:
        sample["timestamp"] = at.timestamp()
    response = push([sample])
    assert response.status_code in (200, 202), response.content


def sold(window: str) -> int | float:
    return business_window(WINDOWS[window])["totalTicketsSold"]


def test_tickets_pushed_a_moment_ago_are_in_every_window_at_once(
    clock: Any, push: Push, viewer_client: APIClient
) -> None:
    sell(push, 120)
    for window in WINDOWS:
        body = viewer_client.get(f"/api/business-metrics?window={window}").json()
        assert body["totalTicketsSold"] == 120, window


def test_the_hour_window_follows_pushes_minute_by_minute_across_the_top_of_the_hour(
    clock: Any, push: Push
) -> None:
    pushed = 0
    for minute in range(14):  # 11:52:30 .. 12:05:30, the aggregation job every 5 minutes
        sell(push, 60 + minute)
        pushed += 60 + minute
        if minute % 5 == 2:
            aggregate_rollups()
        assert sold("1h") == pushed, f"minute {minute}"
        clock.shift(MINUTE)


def test_a_window_is_exactly_the_minute_buckets_after_t_minus_w_up_to_t(
    clock: Any, push: Push
) -> None:
    minute = floor_to(T0, 60)  # 11:52:00
    for at, count in ((minute - timedelta(minutes=10), 1), (minute - MINUTE, 10), (T0, 100)):
        sell(push, count, at)  # buckets 11:42, 11:51, 11:52
    aggregate_rollups()
    assert sold("1h") == 111
    expected = {
        timedelta(minutes=49, seconds=59): 111,  # (11:41:59, 12:41:59]
        timedelta(minutes=50): 110,  # (11:42, 12:42]: the 11:42 bucket starts at t - W, out
        timedelta(minutes=58, seconds=59): 110,
        timedelta(minutes=59): 100,  # the 11:51 bucket is out
        timedelta(minutes=59, seconds=59): 100,
        timedelta(minutes=60): 0,  # (11:52, 12:52]
    }
    for offset, figure in expected.items():
        clock.move_to(minute + offset)
        assert sold("1h") == figure, offset


def test_a_partly_rolled_up_hour_is_counted_once(clock: Any, push: Push) -> None:
    clock.move_to(datetime(2026, 11, 29, 12, 5, 30, tzinfo=UTC))
    sell(push, 5)
    clock.shift(5 * MINUTE)
    aggregate_rollups()  # the 12:00 hour rolled up with 5 tickets in it so far
    sell(push, 7)
    clock.shift(5 * MINUTE)
    assert (sold("1h"), sold("24h"), sold("7d")) == (12, 12, 12)
    aggregate_rollups()
    assert (sold("1h"), sold("24h"), sold("7d")) == (12, 12, 12)


def test_whole_hours_whose_rollup_is_final_are_read_from_it(clock: Any, push: Push) -> None:
    clock.move_to(datetime(2026, 11, 29, 12, 5, 30, tzinfo=UTC))
    sell(push, 5)
    clock.move_to(datetime(2026, 11, 29, 14, 30, 0, tzinfo=UTC))
    aggregate_rollups()  # no sample can land in 12:00-13:00 any more: its rollup is final
    sell(push, 1)
    assert sold("24h") == 6
    # The hour's buckets are not read again: without them (as after retention) nothing changes.
    Bucket.objects.filter(start__lt=datetime(2026, 11, 29, 13, tzinfo=UTC)).delete()
    assert sold("24h") == 6


def test_an_hour_whose_rollup_may_still_change_is_read_from_its_buckets(
    clock: Any, push: Push
) -> None:
    clock.move_to(datetime(2026, 11, 29, 12, 5, 30, tzinfo=UTC))
    sell(push, 5)
    clock.move_to(datetime(2026, 11, 29, 13, 10, 0, tzinfo=UTC))
    aggregate_rollups()
    # A sample up to an hour late may still land in 12:00-13:00: its rollup is not final yet.
    sell(push, 2, at=datetime(2026, 11, 29, 12, 40, tzinfo=UTC))
    assert sold("24h") == 7


@pytest.mark.parametrize("seed", [11, 2026, 31337])
def test_every_window_equals_a_brute_force_sum_over_random_pushes(
    clock: Any, push: Push, seed: int
) -> None:
    rng = random.Random(seed)
    stored: list[tuple[datetime, int]] = []
    clock.move_to(T0 + timedelta(seconds=rng.randrange(3600)))
    for _ in range(60):
        clock.shift(timedelta(seconds=rng.randrange(30, 1500)))
        now = timezone.now()
        at = now - timedelta(seconds=rng.randrange(0, 3000))  # up to 50 minutes late
        count = rng.randrange(1, 50)
        sell(push, count, at)
        stored.append((at, count))
        if rng.random() < 0.4:
            aggregate_rollups()
        if rng.random() < 0.5:
            clock.shift(timedelta(seconds=rng.randrange(0, 600)))
            check_windows(stored, timezone.now())


def check_windows(stored: list[tuple[datetime, int]], now: datetime) -> None:
    for name, span in WINDOWS.items():
        expected = sum(
            count for at, count in stored if now - span < floor_to(at, 60) <= floor_to(now, 60)
        )
        assert sold(name) == expected, f"{name} at {now.isoformat()}"


def test_past_the_bucket_retention_a_week_is_read_from_rollups_to_five_minutes(
    clock: Any, push: Push
) -> None:
    start = datetime(2026, 11, 20, 10, 0, 0, tzinfo=UTC)
    clock.move_to(start)
    for minute in (0, 31, 33, 36, 59, 61):  # 10:00 .. 11:01, one ticket more each
        clock.move_to(start + timedelta(minutes=minute, seconds=20))
        sell(push, minute + 1)
    clock.move_to(start + timedelta(hours=2))
    aggregate_rollups()
    # A week later, at 10:32:10: the window opens at 10:33 (the 10:32 bucket starts before it).
    clock.move_to(start + timedelta(days=7, minutes=32, seconds=10))
    Bucket.objects.filter(start__lt=timezone.now() - timedelta(hours=48)).delete()
    # 10:33 and 10:34 lie before the first whole 5 minutes (10:35) and their buckets are gone:
    # the far edge of a week is read at 5-minute resolution once buckets are pruned.
    assert sold("7d") == (36 + 1) + (59 + 1) + (61 + 1)


def test_an_aggregation_committing_in_the_middle_of_a_read_neither_doubles_nor_drops(
    clock: Any, push: Push, monkeypatch: pytest.MonkeyPatch
) -> None:
    from metrics_app import selectors

    clock.move_to(datetime(2026, 11, 29, 12, 3, 30, tzinfo=UTC))
    sell(push, 3)
    clock.move_to(datetime(2026, 11, 29, 12, 5, 30, tzinfo=UTC))
    sell(push, 5)
    clock.move_to(datetime(2026, 11, 29, 13, 10, 0, tzinfo=UTC))
    aggregate_rollups()  # final up to 12:05: the 12:00 hour is not, its first 5 minutes are
    clock.move_to(datetime(2026, 11, 29, 14, 30, 0, tzinfo=UTC))
    sell(push, 1)
    read_mark = selectors.rollups_final_before

    def mark_then_job_commits() -> datetime | None:
        mark = read_mark()
        aggregate_rollups()  # the job makes the whole 12:00 hour final between the two reads
        return mark

    monkeypatch.setattr(selectors, "rollups_final_before", mark_then_job_commits)
    assert sold("24h") == 9
    monkeypatch.setattr(selectors, "rollups_final_before", read_mark)
    assert sold("24h") == 9
