"""Every kind builds its exact payload from an alert message, without I/O."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from alerts.channels.base import AlertMessage, get_channel_class, resolution_text
from alerts.channels.email import EmailChannel
from alerts.channels.pagerduty import PagerDutyChannel, dedup_key
from alerts.channels.slack import SlackChannel
from alerts.channels.webhook import WebhookChannel
from tests.support.vendor_fixtures import WEBHOOK_SECRET as SECRET

from .conftest import RESOLVED, ROUTING_KEY

FIRING_TEXT = """Firing: High payment error rate (critical)

Payment errors at 12.5% (over 5%)

Value:       12.5 (> threshold 5)
Since:       2026-11-02 09:15:00 UTC
Labels:      env=prod, service=payment

Card payments fail; check the payment provider status page.

View the alert: https://monitor.example.com/alerts/42
Acknowledge:    https://monitor.example.com/alerts/ack/tok123

-- 
TicketToken monitoring, https://monitor.example.com
"""  # noqa: W291 (the signature separator is "-- " by convention)


def resolved(message: AlertMessage) -> AlertMessage:
    """Resolved by the engine at 3.1 after firing 32 min 30 s (issue #19: the message says so)."""
    return replace(
        message,
        event="resolved",
        resolved_at=RESOLVED,
        acknowledged_by="otto",
        resolved_value=3.1,
        fired_seconds=1950.0,
        resolved_by="engine",
    )


# --- email ------------------------------------------------------------------------------------


def test_the_email_subject_names_severity_state_rule_and_labels(message: AlertMessage) -> None:
    payload = EmailChannel({"to": ["oncall@example.com"]}).build(message)

    assert (
        payload.subject == "[CRITICAL] Firing: High payment error rate (env=prod, service=payment)"
    )
    assert payload.from_email == "alerts@tickettoken.example"
    assert payload.to == ("oncall@example.com",)


def test_the_email_text_part_shows_value_threshold_since_description_and_both_links(
    message: AlertMessage,
) -> None:
    payload = EmailChannel({"to": ["oncall@example.com"]}).build(message)

    assert payload.text == FIRING_TEXT


def test_the_email_html_part_escapes_labels_and_carries_the_acknowledge_button(
    make_message: Callable[..., AlertMessage],
) -> None:
    message = make_message(labels={"service": "<script>alert(1)</script>"})

    html = EmailChannel({"to": ["oncall@example.com"]}).build(message).html

    assert "<td><code>&lt;script&gt;alert(1)&lt;/script&gt;</code></td>" in html
    assert "<script>" not in html
    assert "<td>12.5 (&gt; threshold 5)</td>" in html
    assert '<a href="https://monitor.example.com/alerts/ack/tok123"' in html
    assert "Acknowledge</a>" in html


def test_a_resolved_email_has_the_resolution_time_and_no_acknowledge_link(
    message: AlertMessage,
) -> None:
    payload = EmailChannel({"to": ["oncall@example.com"]}).build(resolved(message))

    assert payload.subject.startswith("[CRITICAL] Resolved: High payment error rate")
    assert "Resolution:  3.1, no longer > 5, after firing for 32 min 30 s\n" in payload.text
    assert "Last value while it held: 12.5 (> threshold 5)\n" in payload.text
    assert "Resolved:    2026-11-02 09:47:30 UTC\nAcknowledged by: otto\n" in payload.text
    assert "<td>3.1, no longer &gt; 5, after firing for 32 min 30 s</td>" in payload.html
    assert "ack/tok123" not in payload.text
    assert "ack/tok123" not in payload.html


def test_every_email_of_one_alert_carries_the_same_thread_reference(
    message: AlertMessage,
) -> None:
    channel = EmailChannel({"to": ["oncall@example.com"]})

    first = channel.build(message).headers
    last = channel.build(resolved(message)).headers

    assert first["References"] == "<alert-42.3f2a9c0d4e5b6a71@tickettoken.example>"
    assert last["References"] == first["References"]
    assert (first["X-Alert-Event"], last["X-Alert-Event"]) == ("firing", "resolved")


def test_an_email_subject_never_spans_lines(make_message: Callable[..., AlertMessage]) -> None:
    message = make_message(rule_name="Bad\r\nBcc: victim@example.com", labels={})

    subject = EmailChannel({"to": ["oncall@example.com"]}).build(message).subject

    assert subject == "[CRITICAL] Firing: Bad Bcc: victim@example.com"


def test_an_escalated_email_says_which_level(make_message: Callable[..., AlertMessage]) -> None:
    message = make_message(event="escalated", escalation_level=2, labels={})

    payload = EmailChannel({"to": ["lead@example.com"]}).build(message)

    assert payload.subject == "[CRITICAL] Escalated (level 2): High payment error rate"
    assert "Escalation level: 2\n" in payload.text


# --- Slack ------------------------------------------------------------------------------------


def test_the_slack_message_is_block_kit_with_severity_value_threshold_and_links(
    message: AlertMessage,
) -> None:
    payload = SlackChannel({"token": "xoxb-1234", "channel": "#alerts"}).build(message)

    assert payload == {
        "channel": "#alerts",
        "text": (
            "[CRITICAL] Firing: High payment error rate (env=prod, service=payment): 12.5 &gt; 5"
        ),
        "blocks": [
            {
                "type": "header",
                "text": {
                    "type": "plain_text",
                    "text": ":red_circle: [CRITICAL] Firing: High payment error rate",
                    "emoji": True,
                },
            },
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": (
                        "*Payment errors at 12.5% (over 5%)*\n"
                        "*Value:* 12.5 (&gt; threshold 5)\n"
                        "*Since:* 2026-11-02 09:15:00 UTC\n\n"
                        "Card payments fail; check the payment provider status page."
                    ),
                },
            },
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": "`env=prod`  `service=payment`"}],
            },
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "action_id": "view_alert",
                        "text": {"type": "plain_text", "text": "View alert"},
                        "url": "https://monitor.example.com/alerts/42",
                    },
                    {
                        "type": "button",
                        "action_id": "acknowledge",
                        "style": "primary",
                        "text": {"type": "plain_text", "text": "Acknowledge"},
                        "url": "https://monitor.example.com/alerts/ack/tok123",
                    },
                ],
            },
        ],
    }


def test_the_resolved_slack_message_is_marked_resolved_and_has_no_acknowledge_button(
    message: AlertMessage,
) -> None:
    payload = SlackChannel({"webhook_url": "https://hooks.slack.com/services/T/B/x"}).build(
        resolved(message)
    )

    assert "channel" not in payload
    assert payload["blocks"][0]["text"]["text"] == (
        ":white_check_mark: [CRITICAL] Resolved: High payment error rate"
    )
    assert payload["blocks"][1]["text"]["text"] == (
        "*Payment errors at 12.5% (over 5%)*\n"
        "*Resolved:* 3.1, no longer &gt; 5, after firing for 32 min 30 s\n"
        "*Last value while it held:* 12.5 (&gt; threshold 5)\n"
        "*Since:* 2026-11-02 09:15:00 UTC\n"
        "*Resolved at:* 2026-11-02 09:47:30 UTC\n"
        "*Acknowledged by:* otto\n\n"
        "Card payments fail; check the payment provider status page."
    )
    assert [b["action_id"] for b in payload["blocks"][3]["elements"]] == ["view_alert"]


def test_slack_control_characters_in_alert_text_are_escaped(
    make_message: Callable[..., AlertMessage],
) -> None:
    message = make_message(summary="<!channel> look & see", labels={"q": "a<b"})

    payload = SlackChannel({"webhook_url": "https://hooks.slack.com/services/T/B/x"}).build(message)

    assert payload["blocks"][1]["text"]["text"].startswith("*&lt;!channel&gt; look &amp; see*\n")
    assert payload["blocks"][2]["elements"][0]["text"] == "`q=a&lt;b`"


# --- PagerDuty --------------------------------------------------------------------------------


def test_the_pagerduty_trigger_has_a_stable_dedup_key_mapped_severity_and_details(
    message: AlertMessage,
) -> None:
    event = PagerDutyChannel({"routing_key": ROUTING_KEY}).build(message)

    digest = hashlib.sha256(b"3f2a9c0d4e5b6a71:42").hexdigest()[:20]
    assert event == {
        "routing_key": ROUTING_KEY,
        "event_action": "trigger",
        "dedup_key": f"tickettoken-alert-42-{digest}",
        "payload": {
            "summary": (
                "[CRITICAL] High payment error rate (env=prod, service=payment): "
                "Payment errors at 12.5% (over 5%)"
            ),
            "source": "payment",
            "severity": "critical",
            "timestamp": "2026-11-02T09:15:00Z",
            "class": "High payment error rate",
            "component": "payment",
            "custom_details": {
                "rule": "High payment error rate",
                "event": "firing",
                "value": 12.5,
                "threshold": 5.0,
                "operator": ">",
                "comparison": "12.5 > 5",
                "labels": {"env": "prod", "service": "payment"},
                "description": "Card payments fail; check the payment provider status page.",
                "started_at": "2026-11-02T09:15:00Z",
                "escalation_level": None,
                "fingerprint": "3f2a9c0d4e5b6a71",
            },
        },
        "client": "TicketToken monitoring",
        "client_url": "https://monitor.example.com/alerts/42",
        "links": [
            {"href": "https://monitor.example.com/alerts/42", "text": "View alert"},
            {"href": "https://monitor.example.com/alerts/ack/tok123", "text": "Acknowledge"},
        ],
    }


def test_acknowledge_and_resolve_reuse_the_trigger_dedup_key(message: AlertMessage) -> None:
    channel = PagerDutyChannel({"routing_key": ROUTING_KEY})
    key = dedup_key(message)

    acknowledge = channel.build(replace(message, event="acknowledged", acknowledged_by="otto"))
    resolve = channel.build(resolved(message))

    assert acknowledge == {
        "routing_key": ROUTING_KEY,
        "event_action": "acknowledge",
        "dedup_key": key,
    }
    assert resolve == {"routing_key": ROUTING_KEY, "event_action": "resolve", "dedup_key": key}
    assert channel.build(replace(message, event="reminder"))["dedup_key"] == key


def test_different_alerts_get_different_dedup_keys(
    make_message: Callable[..., AlertMessage],
) -> None:
    keys = {
        dedup_key(make_message()),
        dedup_key(make_message(alert_id=43)),
        dedup_key(make_message(fingerprint="0000000000000000")),
    }

    assert len(keys) == 3
    assert all(len(key) <= 255 for key in keys)


def test_pagerduty_severities_map_one_to_one(make_message: Callable[..., AlertMessage]) -> None:
    channel = PagerDutyChannel({"routing_key": ROUTING_KEY})

    mapped = {
        severity: channel.build(make_message(severity=severity))["payload"]["severity"]
        for severity in ("info", "warning", "error", "critical")
    }

    assert mapped == {
        "info": "info",
        "warning": "warning",
        "error": "error",
        "critical": "critical",
    }


def test_the_pagerduty_summary_is_capped_at_1024_characters(
    make_message: Callable[..., AlertMessage],
) -> None:
    message = make_message(summary="x" * 5000)

    summary = PagerDutyChannel({"routing_key": ROUTING_KEY}).build(message)["payload"]["summary"]

    assert len(summary) == 1024
    assert summary.endswith("x…")


# --- webhook ----------------------------------------------------------------------------------


def test_the_webhook_body_is_alertmanager_version_4_json(message: AlertMessage) -> None:
    request = WebhookChannel(
        {"url": "https://hooks.example.com/alerts", "secret": SECRET, "receiver": "ops"}
    ).build(message)

    labels = {
        "alertname": "High payment error rate",
        "env": "prod",
        "service": "payment",
        "severity": "critical",
    }
    annotations = {
        "summary": "Payment errors at 12.5% (over 5%)",
        "description": "Card payments fail; check the payment provider status page.",
        "value": "12.5",
        "threshold": "5",
        "operator": ">",
        "event": "firing",
        "ack_url": "https://monitor.example.com/alerts/ack/tok123",
    }
    assert request.url == "https://hooks.example.com/alerts"
    assert request.json() == {
        "version": "4",
        "groupKey": '{}:{alertname="High payment error rate"}',
        "truncatedAlerts": 0,
        "status": "firing",
        "receiver": "ops",
        "groupLabels": {"alertname": "High payment error rate"},
        "commonLabels": labels,
        "commonAnnotations": annotations,
        "externalURL": "https://monitor.example.com",
        "alerts": [
            {
                "status": "firing",
                "labels": labels,
                "annotations": annotations,
                "startsAt": "2026-11-02T09:15:00Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "https://monitor.example.com/alerts/42",
                "fingerprint": "3f2a9c0d4e5b6a71",
            }
        ],
    }


def test_the_webhook_body_is_signed_with_hmac_sha256_of_the_exact_bytes(
    message: AlertMessage,
) -> None:
    request = WebhookChannel({"url": "https://hooks.example.com/a", "secret": SECRET}).build(
        message
    )

    expected = hmac.new(SECRET.encode(), request.body, hashlib.sha256).hexdigest()
    assert request.headers["X-Signature-256"] == f"sha256={expected}"
    assert request.headers["Content-Type"] == "application/json"


def test_the_idempotency_key_goes_in_a_header_and_the_signed_body(message: AlertMessage) -> None:
    key = "0b5e1f9e-7c1a-5d2e-9f3a-1234567890ab"
    request = WebhookChannel({"url": "https://hooks.example.com/a", "secret": SECRET}).build(
        replace(message, idempotency_key=key)
    )

    assert request.headers["Idempotency-Key"] == key
    assert request.json()["idempotencyKey"] == key
    expected = hmac.new(SECRET.encode(), request.body, hashlib.sha256).hexdigest()
    assert request.headers["X-Signature-256"] == f"sha256={expected}"
    plain = WebhookChannel({"url": "https://hooks.example.com/a", "secret": SECRET}).build(message)
    assert "Idempotency-Key" not in plain.headers and "idempotencyKey" not in plain.json()


def test_an_email_with_an_idempotency_key_has_a_message_id_made_of_it(
    message: AlertMessage,
) -> None:
    key = "0b5e1f9e-7c1a-5d2e-9f3a-1234567890ab"
    payload = EmailChannel({"to": ["oncall@example.com"]}).build(
        replace(message, idempotency_key=key)
    )

    assert payload.headers["Message-ID"] == f"<notification.{key}@tickettoken.example>"
    assert payload.headers["X-Idempotency-Key"] == key


def test_a_resolved_webhook_has_status_resolved_and_ends_at(message: AlertMessage) -> None:
    body = WebhookChannel({"url": "https://hooks.example.com/a", "secret": SECRET}).build(
        resolved(message)
    )

    document = json.loads(body.body)
    assert document["status"] == "resolved"
    assert document["alerts"][0]["status"] == "resolved"
    assert document["alerts"][0]["endsAt"] == "2026-11-02T09:47:30Z"
    assert document["alerts"][0]["annotations"]["acknowledged_by"] == "otto"
    assert "ack_url" not in document["alerts"][0]["annotations"]


# --- purity -----------------------------------------------------------------------------------


def test_building_twice_gives_identical_payloads_for_every_kind(message: AlertMessage) -> None:
    configs: dict[str, dict[str, Any]] = {
        "email": {"to": ["oncall@example.com"]},
        "slack": {"token": "xoxb-1234", "channel": "#alerts"},
        "pagerduty": {"routing_key": ROUTING_KEY},
        "webhook": {"url": "https://hooks.example.com/a", "secret": SECRET},
    }

    for kind, config in configs.items():
        channel = get_channel_class(kind)(config)
        assert channel.build(message) == channel.build(message), kind


def test_the_resolved_slack_text_says_the_value_that_resolved_it_and_how_long_it_fired(
    message: AlertMessage,
) -> None:
    # Issue #19: it read "Resolved: refund_rate: 19.6044 > 10", as if the condition still held.
    payload = SlackChannel({"webhook_url": "https://hooks.slack.com/services/T/B/x"}).build(
        resolved(message)
    )

    assert payload["text"].endswith(
        "[CRITICAL] Resolved: High payment error rate (env=prod, service=payment): "
        "3.1, no longer &gt; 5, after firing for 32 min 30 s"
    )
    assert "12.5" not in payload["text"]


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        (
            {"resolved_value": None, "resolved_by": "engine"},
            "no data, after firing for 32 min 30 s",
        ),
        ({"resolved_value": None, "resolved_by": "ops@example.com"}, "by ops@example.com"),
        ({"fired_seconds": 45.0}, "3.1, no longer > 5, after firing for 45 s"),
        ({"fired_seconds": 7500.0}, "3.1, no longer > 5, after firing for 2 h 5 min"),
    ],
)
def test_the_resolution_text_names_what_resolved_it(
    message: AlertMessage, changes: dict[str, Any], expected: str
) -> None:
    text = resolution_text(replace(resolved(message), **changes))
    assert text.startswith(expected)
