"""Fixtures for the fake vendors: import them into a conftest that needs them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.test.utils import override_settings

from tests.support.fake_vendors import PagerDutyServer, SlackServer, WebhookReceiver
from tests.support.smtp import SmtpServer

WEBHOOK_SECRET = "s3cret-webhook-signing-key"


@pytest.fixture
def slack_server() -> Iterator[SlackServer]:
    with SlackServer() as server:
        yield server


@pytest.fixture
def pagerduty_server() -> Iterator[PagerDutyServer]:
    with PagerDutyServer() as server, override_settings(PAGERDUTY_EVENTS_URL=server.events_url):
        yield server


@pytest.fixture
def webhook_receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver(secret=WEBHOOK_SECRET) as server:
        yield server


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """aiosmtpd on 127.0.0.1 and the SMTP backend pointed at it (pytest-django sets locmem)."""
    with (
        SmtpServer() as server,
        override_settings(
            EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
            EMAIL_HOST=server.host,
            EMAIL_PORT=server.port,
            EMAIL_HOST_USER="",
            EMAIL_HOST_PASSWORD="",
            EMAIL_USE_TLS=False,
            EMAIL_USE_SSL=False,
            EMAIL_TIMEOUT=5,
        ),
    ):
        yield server
