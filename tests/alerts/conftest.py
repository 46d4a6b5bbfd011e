"""Fixtures of the alert engine tests: rules, a fixed clock, evaluation results, metric rows."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine

from alerts.language import Sample, Scalar, Vector
from alerts.models import Rule

T0 = datetime(2026, 11, 2, 9, 0, 30, tzinfo=UTC)


@pytest.fixture
def clock() -> Iterator[Any]:
    """A stopped clock at T0; ``clock.move_to(...)`` or ``clock.shift(seconds)`` moves it."""
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


@pytest.fixture
def make_rule(db: Any) -> Callable[..., Rule]:
    def make(**fields: Any) -> Rule:
        defaults: dict[str, Any] = {
            "name": f"Rule {Rule.objects.count() + 1}",
            "expression": "sum(queue_size)",
            "operator": ">",
            "threshold": 100.0,
            "for_seconds": 120,
            "keep_firing_for_seconds": 0,
            "cooldown_seconds": 0,
            "severity": "warning",
            "annotations": {
                "summary": "queue at {value} (over {threshold})",
                "description": "service {labels.service} queue {value}",
            },
            "channels": ["slack"],
        }
        defaults.update(fields)
        return Rule.objects.create(**defaults)

    return make


@pytest.fixture
def a_channel(db: Any) -> Any:
    """A working Slack channel reached by rules naming "slack": the nominal setup, in which a
    firing alert reaches someone (without one it is recorded as unrouted)."""
    from alerts.models import NotificationChannel

    channel = NotificationChannel(
        name="Ops Slack",
        kind="slack",
        config={"webhook_url": "https://hooks.slack.com/services/T0TEST/B0TEST/abcdefghijklmnop"},
    )
    channel.full_clean()
    channel.save()
    return channel


def scalar(value: float) -> Any:
    return Scalar(value=value)


def vector(*samples: tuple[dict[str, str], float]) -> Any:
    return Vector(samples=[Sample(labels=labels, value=value) for labels, value in samples])


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)
