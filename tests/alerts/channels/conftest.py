"""Fixtures of the channel tests: an alert message, the fake vendors, an SMTP server, settings."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from django.test.utils import override_settings

from alerts.channels.base import AlertMessage

# The fake vendors' fixtures, shared with the other notification tests.
from tests.support.vendor_fixtures import pagerduty_server as pagerduty_server
from tests.support.vendor_fixtures import slack_server as slack_server
from tests.support.vendor_fixtures import smtp_server as smtp_server
from tests.support.vendor_fixtures import webhook_receiver as webhook_receiver

STARTED = datetime(2026, 11, 2, 9, 15, tzinfo=UTC)
RESOLVED = datetime(2026, 11, 2, 9, 47, 30, tzinfo=UTC)
ROUTING_KEY = "R0UT1NGKEY0123456789abcdefABCDEF"


@pytest.fixture(autouse=True)
def _channel_settings() -> Iterator[None]:
    """Links use a fixed SITE_URL; vendor calls give up quickly when a fake server hangs."""
    with override_settings(
        SITE_URL="https://monitor.example.com",
        ALERT_FROM_EMAIL="alerts@tickettoken.example",
        CHANNEL_CONNECT_TIMEOUT=2.0,
        CHANNEL_READ_TIMEOUT=1.0,
        ALLOW_HTTP_WEBHOOKS=False,
        WEBHOOK_ALLOW_PRIVATE=False,
        WEBHOOK_ALLOWED_NETWORKS=[],
    ):
        yield


@pytest.fixture
def make_message() -> Callable[..., AlertMessage]:
    def make(**overrides: Any) -> AlertMessage:
        fields: dict[str, Any] = {
            "alert_id": 42,
            "fingerprint": "3f2a9c0d4e5b6a71",
            "event": "firing",
            "rule_name": "High payment error rate",
            "severity": "critical",
            "labels": {"service": "payment", "env": "prod"},
            "value": 12.5,
            "threshold": 5.0,
            "operator": ">",
            "summary": "Payment errors at 12.5% (over 5%)",
            "description": "Card payments fail; check the payment provider status page.",
            "started_at": STARTED,
            "resolved_at": None,
            "acknowledged_by": "",
            "url": "https://monitor.example.com/alerts/42",
            "ack_url": "https://monitor.example.com/alerts/ack/tok123",
            "escalation_level": None,
        }
        fields.update(overrides)
        return AlertMessage(**fields)

    return make


@pytest.fixture
def message(make_message: Callable[..., AlertMessage]) -> AlertMessage:
    return make_message()


@pytest.fixture
def allow_private() -> Iterator[None]:
    """Loopback receivers: the fake vendors listen on 127.0.0.1 over plain http."""
    with override_settings(WEBHOOK_ALLOW_PRIVATE=True, ALLOW_HTTP_WEBHOOKS=True):
        yield
