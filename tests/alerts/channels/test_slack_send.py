"""Slack through slack_sdk against a Slack-speaking HTTP server on 127.0.0.1."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from django.test.utils import override_settings

from alerts.channels.base import AlertMessage, ChannelError
from alerts.channels.slack import SlackChannel
from tests.support.fake_vendors import SlackServer


@pytest.fixture
def webhook(slack_server: SlackServer, allow_private: None) -> SlackChannel:
    return SlackChannel({"webhook_url": slack_server.webhook_url})


@pytest.fixture
def api(slack_server: SlackServer) -> Iterator[SlackChannel]:
    with override_settings(SLACK_API_URL=slack_server.api_url):
        yield SlackChannel({"token": slack_server.token, "channel": "#alerts"})


def send_error(channel: SlackChannel, message: AlertMessage) -> ChannelError:
    with pytest.raises(ChannelError) as caught:
        channel.send(message)
    return caught.value


# --- incoming webhook -------------------------------------------------------------------------


def test_a_webhook_message_is_posted_as_the_built_payload(
    webhook: SlackChannel, slack_server: SlackServer, message: AlertMessage
) -> None:
    receipt = webhook.send(message)

    assert slack_server.messages == [webhook.build(message)]
    assert (receipt.status, receipt.detail) == (200, "ok")
    [request] = slack_server.requests
    assert request.header("content-type") == "application/json;charset=utf-8"


def test_a_webhook_500_is_transient(
    webhook: SlackChannel, slack_server: SlackServer, message: AlertMessage
) -> None:
    slack_server.fail(500)

    error = send_error(webhook, message)

    assert (error.permanent, error.status, error.retry_after) == (False, 500, None)
    assert len(slack_server.requests) == 1  # slack_sdk's own retries are off: the outbox retries


def test_a_webhook_400_is_permanent(
    webhook: SlackChannel, slack_server: SlackServer, message: AlertMessage
) -> None:
    slack_server.fail(400, body="invalid_payload")

    error = send_error(webhook, message)

    assert (error.permanent, error.status) == (True, 400)
    assert "invalid_payload" in error.message


def test_a_webhook_for_a_deleted_integration_is_permanent(
    slack_server: SlackServer, allow_private: None, message: AlertMessage
) -> None:
    channel = SlackChannel({"webhook_url": slack_server.url + "/services/T0/B0/revoked"})

    error = send_error(channel, message)

    assert (error.permanent, error.status) == (True, 404)
    assert "no_service" in error.message


def test_a_webhook_429_carries_retry_after(
    webhook: SlackChannel, slack_server: SlackServer, message: AlertMessage
) -> None:
    slack_server.rate_limit(retry_after=3)

    error = send_error(webhook, message)

    assert (error.permanent, error.status, error.retry_after) == (False, 429, 3.0)


def test_a_webhook_that_hangs_times_out_as_transient(
    webhook: SlackChannel, slack_server: SlackServer, message: AlertMessage
) -> None:
    slack_server.hang(seconds=10)
    started = time.monotonic()

    error = send_error(webhook, message)

    assert error.permanent is False
    assert time.monotonic() - started < 5  # CHANNEL_*_TIMEOUT is 2 s in these tests


def test_a_webhook_connection_closed_without_answer_is_transient(
    webhook: SlackChannel, slack_server: SlackServer, message: AlertMessage
) -> None:
    slack_server.close_connection()

    error = send_error(webhook, message)

    assert error.permanent is False
    assert error.message.startswith("Slack webhook unreachable")


def test_a_webhook_redirect_is_not_followed(
    webhook: SlackChannel, slack_server: SlackServer, message: AlertMessage
) -> None:
    slack_server.redirect(slack_server.webhook_url, status=302)

    error = send_error(webhook, message)

    assert (error.permanent, error.status) == (True, 302)
    assert len(slack_server.requests) == 1


# --- Web API chat.postMessage -----------------------------------------------------------------


def test_chat_post_message_sends_blocks_to_the_channel_and_returns_the_ts(
    api: SlackChannel, slack_server: SlackServer, message: AlertMessage
) -> None:
    receipt = api.send(message)

    [posted] = slack_server.messages
    assert posted == api.build(message)
    assert posted["channel"] == "#alerts"
    assert (receipt.status, receipt.message_id, receipt.detail) == (
        200,
        "1700000000.000001",
        "C0ALERTS1",
    )
    assert slack_server.requests[0].header("authorization") == "Bearer xoxb-test-token"


def test_chat_post_message_to_an_unknown_channel_is_permanent(
    slack_server: SlackServer, message: AlertMessage
) -> None:
    with override_settings(SLACK_API_URL=slack_server.api_url):
        channel = SlackChannel({"token": slack_server.token, "channel": "#nowhere"})
        error = send_error(channel, message)

    assert (error.permanent, error.status) == (True, 200)
    assert error.message == "Slack API error: channel_not_found"


def test_chat_post_message_with_a_revoked_token_is_permanent(
    slack_server: SlackServer, message: AlertMessage
) -> None:
    with override_settings(SLACK_API_URL=slack_server.api_url):
        channel = SlackChannel({"token": "xoxb-revoked", "channel": "#alerts"})
        error = send_error(channel, message)

    assert (error.permanent, error.message) == (True, "Slack API error: invalid_auth")


def test_chat_post_message_500_is_transient(
    api: SlackChannel, slack_server: SlackServer, message: AlertMessage
) -> None:
    slack_server.fail(500)

    error = send_error(api, message)

    assert (error.permanent, error.status) == (False, 500)


def test_chat_post_message_400_is_permanent(
    api: SlackChannel, slack_server: SlackServer, message: AlertMessage
) -> None:
    slack_server.fail(400, body='{"ok": false, "error": "invalid_arguments"}')

    error = send_error(api, message)

    assert (error.permanent, error.status) == (True, 400)
    assert "invalid_arguments" in error.message


def test_chat_post_message_429_carries_retry_after(
    api: SlackChannel, slack_server: SlackServer, message: AlertMessage
) -> None:
    slack_server.fail(
        429, body='{"ok": false, "error": "ratelimited"}', headers={"Retry-After": "7"}
    )

    error = send_error(api, message)

    assert (error.permanent, error.status, error.retry_after) == (False, 429, 7.0)
    assert "ratelimited" in error.message


def test_chat_post_message_when_slack_is_unreachable_is_transient(
    api: SlackChannel, slack_server: SlackServer, message: AlertMessage
) -> None:
    slack_server.stop()

    error = send_error(api, message)

    assert error.permanent is False
    assert error.message.startswith("Slack API unreachable")
