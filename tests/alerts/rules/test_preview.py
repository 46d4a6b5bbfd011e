"""The preview's replay of the lifecycle over a series of results (pure: nothing is written)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from alerts.models import Alert, Rule
from alerts.rules.preview import replay
from tests.alerts.conftest import T0, scalar, vector

pytestmark = pytest.mark.django_db


def steps(*values: Any) -> list[tuple[Any, Any]]:
    """One result a minute from T0; a number is a scalar, None is no data."""
    return [
        (T0 + timedelta(minutes=i), vector() if value is None else scalar(value))
        for i, value in enumerate(values)
    ]


def test_it_fires_after_for_and_resolves_after_keep_firing_for(
    make_rule: Callable[..., Rule],
) -> None:
    rule = make_rule(for_seconds=120, keep_firing_for_seconds=120)
    outcome = replay(rule, steps(500, 500, 500, 500, 10, 10, 10, 10))
    assert outcome.points == 8
    assert outcome.episodes == [
        {
            "labels": {},
            "pending_at": T0,
            "fired_at": T0 + timedelta(minutes=2),
            "resolved_at": T0 + timedelta(minutes=6),
            "max_value": 500.0,
        }
    ]
    assert not Alert.objects.exists()


def test_a_blip_shorter_than_for_never_fires(make_rule: Callable[..., Rule]) -> None:
    rule = make_rule(for_seconds=180)
    assert replay(rule, steps(500, 500, 10, 500, 500, 10)).episodes == []


def test_an_episode_still_firing_at_the_end_has_no_resolution(
    make_rule: Callable[..., Rule],
) -> None:
    rule = make_rule(for_seconds=60)
    [episode] = replay(rule, steps(10, 500, 700, 600)).episodes
    assert (episode["fired_at"], episode["resolved_at"], episode["max_value"]) == (
        T0 + timedelta(minutes=2),
        None,
        700.0,
    )


def test_the_guard_and_no_data_modes_are_replayed_too(make_rule: Callable[..., Rule]) -> None:
    guarded = make_rule(for_seconds=60, min_volume_expression="sum(queue_size)", min_volume=20)
    guards = [scalar(5), scalar(5), scalar(5)]
    assert replay(guarded, steps(500, 500, 500), guards).episodes == []
    keep = make_rule(for_seconds=60, no_data="keep_state")
    [episode] = replay(keep, steps(500, None, None, 500)).episodes
    assert episode["fired_at"] == T0 + timedelta(minutes=3)
    alerting = make_rule(for_seconds=60, no_data="alerting")
    [episode] = replay(alerting, steps(None, None, 10)).episodes
    assert (episode["fired_at"], episode["resolved_at"]) == (
        T0 + timedelta(minutes=1),
        T0 + timedelta(minutes=2),
    )


def test_each_label_set_has_its_own_episodes(make_rule: Callable[..., Rule]) -> None:
    rule = make_rule(for_seconds=60)
    results = [
        (T0 + timedelta(minutes=i), vector(({"service": "a"}, a), ({"service": "b"}, b)))
        for i, (a, b) in enumerate([(500, 10), (500, 500), (10, 500), (10, 10)])
    ]
    episodes = replay(rule, results).episodes
    assert [(e["labels"]["service"], e["fired_at"], e["resolved_at"]) for e in episodes] == [
        ("a", T0 + timedelta(minutes=1), T0 + timedelta(minutes=2)),
        ("b", T0 + timedelta(minutes=2), T0 + timedelta(minutes=3)),
    ]
