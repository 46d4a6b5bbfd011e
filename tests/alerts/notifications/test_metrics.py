"""Notification outcomes and delivery latency on /metrics, computed from the rows."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from alerts.models import Alert, NotificationChannel
from alerts.notifications.metrics import NOTIFICATION_COLLECTOR
from metrics_app.exposition import registered_collectors
from tests.alerts.notifications.conftest import drain
from tests.support.fake_vendors import WebhookReceiver

pytestmark = pytest.mark.django_db


def exposition() -> str:
    registry = CollectorRegistry()
    registry.register(NOTIFICATION_COLLECTOR)
    return generate_latest(registry).decode()


def test_the_collector_is_registered_for_metrics() -> None:
    assert NOTIFICATION_COLLECTOR in registered_collectors()


def test_attempts_rows_and_latency_are_exported_from_the_rows(
    fire: Callable[..., Alert],
    webhook: NotificationChannel,
    webhook_receiver: WebhookReceiver,
    clock: Any,
) -> None:
    webhook_receiver.fail(503, times=1)
    fire(channels=["webhook"])
    drain(clock)  # fails once, then delivered after its backoff (5 to 10 s)

    text = exposition()

    assert 'alert_notification_attempts_total{kind="webhook",outcome="transient"} 1.0' in text
    assert 'alert_notification_attempts_total{kind="webhook",outcome="delivered"} 1.0' in text
    assert 'alert_notifications{kind="webhook",state="delivered"} 1.0' in text
    assert 'alert_notification_delivery_seconds_bucket{kind="webhook",le="5.0"} 0.0' in text
    assert 'alert_notification_delivery_seconds_bucket{kind="webhook",le="10.0"} 1.0' in text
    assert 'alert_notification_delivery_seconds_count{kind="webhook"} 1.0' in text
    [total] = [
        line
        for line in text.splitlines()
        if line.startswith("alert_notification_delivery_seconds_sum")
    ]
    assert 5.0 <= float(total.split()[-1]) <= 10.0
