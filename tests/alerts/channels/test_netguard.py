"""SSRF: webhook and Slack URLs reaching private addresses are refused when connecting."""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Iterator

import pytest
from django.test.utils import override_settings

from alerts.channels.base import AlertMessage, ChannelError
from alerts.channels.slack import SlackChannel
from alerts.channels.webhook import WebhookChannel
from tests.support.fake_vendors import SlackServer, WebhookReceiver
from tests.support.vendor_fixtures import WEBHOOK_SECRET as SECRET


def webhook_to(url: str) -> WebhookChannel:
    # Built directly, as a config saved before a DNS change or with the flag on would be.
    return WebhookChannel({"url": url, "secret": SECRET})


def refusal(channel: WebhookChannel | SlackChannel, message: AlertMessage) -> ChannelError:
    with pytest.raises(ChannelError) as caught:
        channel.send(message)
    assert caught.value.permanent is True
    return caught.value


@pytest.fixture
def second_loopback_receiver() -> Iterator[WebhookReceiver]:
    """A receiver on 127.0.0.2: another loopback address, outside an allow-list of 127.0.0.1."""
    with WebhookReceiver(host="127.0.0.2", secret=SECRET) as server:
        yield server


def test_a_webhook_to_loopback_is_refused_and_nothing_arrives(
    webhook_receiver: WebhookReceiver, message: AlertMessage
) -> None:
    error = refusal(webhook_to(webhook_receiver.url + "/hook"), message)

    assert error.message == "refused to connect to 127.0.0.1 (127.0.0.1): a loopback address"
    assert webhook_receiver.requests == []


def test_a_host_name_is_checked_after_resolution_at_connection_time(
    webhook_receiver: WebhookReceiver, message: AlertMessage
) -> None:
    error = refusal(webhook_to(f"http://localhost:{webhook_receiver.port}/hook"), message)

    assert error.message.startswith("refused to connect to localhost (")
    assert error.message.endswith("a loopback address")
    assert webhook_receiver.requests == []


def test_an_ipv4_mapped_ipv6_loopback_is_refused(
    webhook_receiver: WebhookReceiver, message: AlertMessage
) -> None:
    error = refusal(webhook_to(f"http://[::ffff:127.0.0.1]:{webhook_receiver.port}/"), message)

    assert error.message.endswith("a loopback address")


def test_a_webhook_to_a_private_network_is_refused_without_connecting(
    message: AlertMessage,
) -> None:
    started = time.monotonic()

    error = refusal(webhook_to("https://10.0.0.1/hook"), message)

    assert error.message == "refused to connect to 10.0.0.1 (10.0.0.1): a private address"
    assert time.monotonic() - started < 1.0  # no connect attempt, so no connect timeout


def test_the_cloud_metadata_address_is_refused(message: AlertMessage) -> None:
    error = refusal(webhook_to("http://169.254.169.254/latest/meta-data/"), message)

    assert error.message.endswith("a cloud metadata address")


def test_a_redirect_to_loopback_is_refused_when_the_redirect_connects(
    webhook_receiver: WebhookReceiver,
    second_loopback_receiver: WebhookReceiver,
    message: AlertMessage,
) -> None:
    webhook_receiver.redirect(second_loopback_receiver.url + "/internal", status=307)

    with override_settings(WEBHOOK_ALLOWED_NETWORKS=[ipaddress.ip_network("127.0.0.1/32")]):
        error = refusal(webhook_to(webhook_receiver.url + "/hook"), message)

    assert error.message == "refused to connect to 127.0.0.2 (127.0.0.2): a loopback address"
    assert [r.path for r in webhook_receiver.requests] == ["/hook"]
    assert second_loopback_receiver.requests == []


def test_a_redirect_to_the_metadata_service_is_refused(
    webhook_receiver: WebhookReceiver, message: AlertMessage
) -> None:
    webhook_receiver.redirect("http://169.254.169.254/latest/meta-data/", status=302)

    with override_settings(WEBHOOK_ALLOWED_NETWORKS=[ipaddress.ip_network("127.0.0.1/32")]):
        error = refusal(webhook_to(webhook_receiver.url + "/hook"), message)

    assert error.message.endswith("a cloud metadata address")


def test_the_same_redirect_is_followed_when_private_addresses_are_allowed(
    webhook_receiver: WebhookReceiver,
    second_loopback_receiver: WebhookReceiver,
    allow_private: None,
    message: AlertMessage,
) -> None:
    webhook_receiver.redirect(second_loopback_receiver.url + "/internal", status=307)

    receipt = webhook_to(webhook_receiver.url + "/hook").send(message)

    assert receipt.status == 200
    assert [r.path for r in second_loopback_receiver.requests] == ["/internal"]


def test_a_redirect_to_the_metadata_service_is_refused_even_when_private_addresses_are_allowed(
    webhook_receiver: WebhookReceiver, allow_private: None, message: AlertMessage
) -> None:
    webhook_receiver.redirect("http://169.254.169.254/latest/meta-data/", status=302)

    error = refusal(webhook_to(webhook_receiver.url + "/hook"), message)

    assert error.message == (
        "refused to connect to 169.254.169.254 (169.254.169.254): a cloud metadata address"
    )


def test_a_slack_webhook_url_to_loopback_is_refused(
    slack_server: SlackServer, message: AlertMessage
) -> None:
    error = refusal(SlackChannel({"webhook_url": slack_server.webhook_url}), message)

    assert error.message == "refused to connect to 127.0.0.1 (127.0.0.1): a loopback address"
    assert slack_server.requests == []


def test_a_slack_webhook_url_to_a_private_network_is_refused(message: AlertMessage) -> None:
    error = refusal(SlackChannel({"webhook_url": "https://10.9.8.7/services/T/B/x"}), message)

    assert error.message.endswith("a private address")


def test_a_slack_webhook_redirect_towards_loopback_is_never_followed(
    slack_server: SlackServer,
    second_loopback_receiver: WebhookReceiver,
    message: AlertMessage,
) -> None:
    slack_server.redirect(second_loopback_receiver.url + "/internal", status=307)

    with override_settings(WEBHOOK_ALLOWED_NETWORKS=[ipaddress.ip_network("127.0.0.1/32")]):
        error = refusal(SlackChannel({"webhook_url": slack_server.webhook_url}), message)

    assert error.status == 307
    assert second_loopback_receiver.requests == []
