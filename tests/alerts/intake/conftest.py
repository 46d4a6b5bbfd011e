"""Fixtures of the intake tests: the seeded external rule, a webhook channel, an intake client."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.test.utils import override_settings
from rest_framework.test import APIClient

from alerts.bootstrap.rules import seed
from alerts.intake.tokens import create_intake_token
from alerts.models import IntakeToken, NotificationChannel, Rule
from tests.support.fake_vendors import WebhookReceiver
from tests.support.vendor_fixtures import WEBHOOK_SECRET as SECRET
from tests.support.vendor_fixtures import webhook_receiver as webhook_receiver

INTAKE_URL = "/api/v2/alerts"
Post = Callable[..., Any]


@pytest.fixture(autouse=True)
def _loopback_webhooks() -> Iterator[None]:
    with override_settings(
        ALLOW_HTTP_WEBHOOKS=True, WEBHOOK_ALLOW_PRIVATE=True, WEBHOOK_ALLOWED_NETWORKS=[]
    ):
        yield


@pytest.fixture
def external_rule(db: Any) -> Rule:
    """The built-in rule as bootstrap seeds it."""
    seed(lambda line: None)
    return Rule.objects.get(slug="external")


@pytest.fixture
def hook(external_rule: Rule, webhook_receiver: WebhookReceiver) -> NotificationChannel:
    """A webhook channel (a recording server on 127.0.0.1) that the external rule notifies."""
    channel = NotificationChannel(
        name="Ops webhook",
        kind="webhook",
        config={"url": webhook_receiver.url + "/hook", "secret": SECRET},
    )
    channel.full_clean()
    channel.save()
    external_rule.notification_channels.add(channel)
    return channel


@pytest.fixture
def intake_token(db: Any) -> tuple[IntakeToken, str]:
    return create_intake_token(name="prometheus-prod")


@pytest.fixture
def post(intake_token: tuple[IntakeToken, str], external_rule: Rule) -> Post:
    """POST a list of alerts with the intake token as a bearer token; returns the response."""

    def send(alerts: Any, *, client: APIClient | None = None) -> Any:
        if client is None:
            client = APIClient()
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {intake_token[1]}")
        return client.post(INTAKE_URL, json.dumps(alerts), content_type="application/json")

    return send
