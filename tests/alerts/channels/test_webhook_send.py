"""Webhooks against a receiver on 127.0.0.1 that checks the signature."""

from __future__ import annotations

import pytest

from alerts.channels.base import AlertMessage, ChannelError
from alerts.channels.webhook import WebhookChannel
from tests.support.fake_vendors import WebhookReceiver
from tests.support.vendor_fixtures import WEBHOOK_SECRET as SECRET


@pytest.fixture
def channel(webhook_receiver: WebhookReceiver, allow_private: None) -> WebhookChannel:
    return WebhookChannel({"url": webhook_receiver.url + "/alertmanager", "secret": SECRET})


def send_error(channel: WebhookChannel, message: AlertMessage) -> ChannelError:
    with pytest.raises(ChannelError) as caught:
        channel.send(message)
    return caught.value


def test_the_receiver_gets_the_exact_signed_body(
    channel: WebhookChannel, webhook_receiver: WebhookReceiver, message: AlertMessage
) -> None:
    receipt = channel.send(message)

    [request] = webhook_receiver.requests
    built = channel.build(message)
    assert (request.path, request.body) == ("/alertmanager", built.body)
    assert request.header("x-signature-256") == built.headers["X-Signature-256"]
    assert (receipt.status, receipt.message_id) == (200, "req-1")


def test_a_body_signed_with_another_secret_is_refused_by_the_receiver(
    webhook_receiver: WebhookReceiver, allow_private: None, message: AlertMessage
) -> None:
    channel = WebhookChannel({"url": webhook_receiver.url, "secret": "another-secret-of-16+"})

    error = send_error(channel, message)

    assert (error.permanent, error.status) == (True, 401)
    assert webhook_receiver.bodies == []


def test_a_500_is_transient(
    channel: WebhookChannel, webhook_receiver: WebhookReceiver, message: AlertMessage
) -> None:
    webhook_receiver.fail(503)

    error = send_error(channel, message)

    assert (error.permanent, error.status) == (False, 503)


def test_a_400_is_permanent(
    channel: WebhookChannel, webhook_receiver: WebhookReceiver, message: AlertMessage
) -> None:
    webhook_receiver.fail(400, body='{"error": "unknown receiver"}')

    error = send_error(channel, message)

    assert (error.permanent, error.status) == (True, 400)
    assert "unknown receiver" in error.message


def test_a_429_carries_retry_after(
    channel: WebhookChannel, webhook_receiver: WebhookReceiver, message: AlertMessage
) -> None:
    webhook_receiver.rate_limit(retry_after=3)

    error = send_error(channel, message)

    assert (error.permanent, error.status, error.retry_after) == (False, 429, 3.0)


def test_failures_until_a_time_then_success(
    channel: WebhookChannel, webhook_receiver: WebhookReceiver, message: AlertMessage
) -> None:
    import time_machine
    from django.utils import timezone

    with time_machine.travel(timezone.now(), tick=False) as clock:
        webhook_receiver.fail(500, for_seconds=600)
        first = send_error(channel, message)
        clock.shift(599)
        second = send_error(channel, message)
        clock.shift(2)
        receipt = channel.send(message)

    assert (first.status, second.status, receipt.status) == (500, 500, 200)
    assert len(webhook_receiver.bodies) == 1


def test_a_redirect_to_an_allowed_address_is_followed(
    channel: WebhookChannel, webhook_receiver: WebhookReceiver, message: AlertMessage
) -> None:
    webhook_receiver.redirect(webhook_receiver.url + "/moved", status=307)

    receipt = channel.send(message)

    assert [r.path for r in webhook_receiver.requests] == ["/alertmanager", "/moved"]
    assert webhook_receiver.requests[1].body == channel.build(message).body
    assert receipt.status == 200


def test_a_hanging_receiver_times_out_as_transient(
    channel: WebhookChannel, webhook_receiver: WebhookReceiver, message: AlertMessage
) -> None:
    webhook_receiver.hang(seconds=10)

    error = send_error(channel, message)

    assert error.permanent is False
    assert "ReadTimeout" in error.message
    assert webhook_receiver.url not in error.message  # URLs may carry tokens: never in errors


def test_a_receiver_that_is_down_is_transient(
    channel: WebhookChannel, webhook_receiver: WebhookReceiver, message: AlertMessage
) -> None:
    webhook_receiver.stop()

    error = send_error(channel, message)

    assert error.permanent is False
    assert error.message.startswith("unreachable: ConnectionError")
