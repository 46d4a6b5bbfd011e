"""Channel configuration is validated per kind; every error names its field."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.test.utils import override_settings

from alerts.channels.base import CHANNEL_KINDS, get_channel_class
from tests.support.vendor_fixtures import WEBHOOK_SECRET as SECRET

from .conftest import ROUTING_KEY


def errors_of(kind: str, config: Any) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as caught:
        get_channel_class(kind).validate_config(config)
    return caught.value.message_dict


def test_the_registry_has_one_class_per_kind() -> None:
    assert {kind: get_channel_class(kind).kind for kind in CHANNEL_KINDS} == {
        "email": "email",
        "slack": "slack",
        "pagerduty": "pagerduty",
        "webhook": "webhook",
    }


def test_an_unknown_kind_is_a_key_error_naming_the_kinds() -> None:
    with pytest.raises(KeyError, match="sms"):
        get_channel_class("sms")


def test_a_config_that_is_not_an_object_is_refused() -> None:
    assert errors_of("email", ["a@example.com"]) == {"config": ["Expected an object."]}


def test_unknown_fields_are_named() -> None:
    errors = errors_of("pagerduty", {"routing_key": ROUTING_KEY, "routing_kye": "x"})

    assert errors == {"routing_kye": ["Unknown field for a pagerduty channel."]}


# --- email ------------------------------------------------------------------------------------


def test_email_addresses_are_normalised_to_a_list() -> None:
    config = get_channel_class("email").validate_config(
        {"to": " oncall@example.com, lead@example.com ", "from": "alerts@example.com"}
    )

    assert config == {
        "to": ["oncall@example.com", "lead@example.com"],
        "from": "alerts@example.com",
    }


def test_an_invalid_recipient_is_named_under_to() -> None:
    errors = errors_of("email", {"to": ["oncall@example.com", "not-an-address"]})

    assert errors == {"to": ["'not-an-address' is not a valid email address."]}


def test_a_missing_recipient_list_is_required() -> None:
    assert errors_of("email", {"to": []}) == {"to": ["This field is required."]}


def test_an_invalid_sender_is_named_under_from() -> None:
    errors = errors_of("email", {"to": ["a@example.com"], "from": "alerts@"})

    assert list(errors) == ["from"]


def test_header_injection_in_an_address_is_refused() -> None:
    errors = errors_of("email", {"to": ["a@example.com\nBcc: b@example.com"]})

    assert list(errors) == ["to"]


# --- Slack ------------------------------------------------------------------------------------


def test_a_slack_webhook_must_use_https() -> None:
    errors = errors_of("slack", {"webhook_url": "http://hooks.slack.com/services/T/B/x"})

    assert errors == {
        "webhook_url": ["The URL must use https (set ALLOW_HTTP_WEBHOOKS=true to allow http)."]
    }


def test_http_webhooks_are_accepted_when_allowed() -> None:
    with override_settings(ALLOW_HTTP_WEBHOOKS=True):
        config = get_channel_class("slack").validate_config(
            {"webhook_url": "http://hooks.example.com/services/T/B/x"}
        )

    assert config == {"webhook_url": "http://hooks.example.com/services/T/B/x"}


def test_slack_needs_a_webhook_or_a_token() -> None:
    assert errors_of("slack", {}) == {"webhook_url": ["Set webhook_url, or token and channel."]}


@pytest.mark.parametrize("channel", ["#alerts", "ops-alerts", "team_ops.pages", "C0123ABCD"])
def test_valid_slack_channel_names_are_accepted(channel: str) -> None:
    config = get_channel_class("slack").validate_config(
        {"token": "xoxb-123-abc", "channel": channel}
    )

    assert config == {"token": "xoxb-123-abc", "channel": channel}


@pytest.mark.parametrize("channel", ["#Alerts", "#has space", "#" + "a" * 81, "#é", "#"])
def test_invalid_slack_channel_names_are_named_under_channel(channel: str) -> None:
    errors = errors_of("slack", {"token": "xoxb-123-abc", "channel": channel})

    assert list(errors) == ["channel"]


def test_a_slack_token_needs_a_channel_and_a_token_shape() -> None:
    errors = errors_of("slack", {"token": "hunter2"})

    assert errors == {
        "token": ["Expected a Slack token such as xoxb-…."],
        "channel": ["This field is required with a token."],
    }


# --- PagerDuty --------------------------------------------------------------------------------


def test_a_32_character_routing_key_is_accepted() -> None:
    config = get_channel_class("pagerduty").validate_config({"routing_key": f" {ROUTING_KEY} "})

    assert config == {"routing_key": ROUTING_KEY}


@pytest.mark.parametrize("key", ["short", ROUTING_KEY + "0", ROUTING_KEY[:-1] + "-"])
def test_a_malformed_routing_key_is_named(key: str) -> None:
    errors = errors_of("pagerduty", {"routing_key": key})

    assert errors == {
        "routing_key": [
            "Expected the 32-character integration key of an Events API v2 integration."
        ]
    }


# --- webhook ----------------------------------------------------------------------------------


def test_a_webhook_needs_an_https_url_and_a_long_secret() -> None:
    errors = errors_of("webhook", {"url": "ftp://example.com/x", "secret": "short"})

    assert errors == {
        "url": ["The URL must use https."],
        "secret": ["Use a random secret of at least 16 characters."],
    }


def test_a_webhook_url_without_a_host_is_refused() -> None:
    assert errors_of("webhook", {"url": "https:///path", "secret": SECRET}) == {
        "url": ["The URL has no host name."]
    }


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("https://127.0.0.1/hook", "a loopback address"),
        ("https://10.1.2.3/hook", "a private address"),
        ("https://[::1]/hook", "a loopback address"),
    ],
)
def test_a_webhook_url_with_a_private_literal_address_is_refused_on_save(
    url: str, reason: str
) -> None:
    errors = errors_of("webhook", {"url": url, "secret": SECRET})

    assert errors == {
        "url": [f"The URL points at {reason} (set WEBHOOK_ALLOW_PRIVATE=true to allow it)."]
    }


def test_a_private_webhook_url_is_accepted_when_private_addresses_are_allowed() -> None:
    with override_settings(WEBHOOK_ALLOW_PRIVATE=True):
        config = get_channel_class("webhook").validate_config(
            {"url": "https://10.1.2.3/hook", "secret": SECRET}
        )

    assert config == {"url": "https://10.1.2.3/hook", "secret": SECRET}


@pytest.mark.parametrize("private_allowed", [False, True])
@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("https://169.254.169.254/latest/meta-data", "a cloud metadata address"),
        ("https://[fd00:ec2::254]/latest", "a cloud metadata address"),
        ("https://169.254.1.1/hook", "a link-local address"),
    ],
)
def test_a_webhook_url_to_metadata_or_link_local_is_refused_even_with_private_allowed(
    url: str, reason: str, private_allowed: bool
) -> None:
    with override_settings(WEBHOOK_ALLOW_PRIVATE=private_allowed):
        errors = errors_of("webhook", {"url": url, "secret": SECRET})

    assert errors == {"url": [f"The URL points at {reason}, which webhooks may never reach."]}
