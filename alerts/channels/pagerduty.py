"""PagerDuty Events API v2: trigger, acknowledge and resolve one incident per alert."""

from __future__ import annotations

import hashlib
import json
import logging
import re
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError

from alerts.channels import http
from alerts.channels.base import (
    AlertMessage,
    Channel,
    ChannelError,
    Receipt,
    iso_time,
    message_context,
    one_line,
    render,
)

logger = logging.getLogger(__name__)

ROUTING_KEY = re.compile(r"^[A-Za-z0-9]{32}$")
SUMMARY_LIMIT = 1024
SEVERITY_MAP = {"info": "info", "warning": "warning", "error": "error", "critical": "critical"}
ACTIONS = {"acknowledged": "acknowledge", "resolved": "resolve"}
CLIENT = "TicketToken monitoring"


def dedup_key(message: AlertMessage) -> str:
    """Stable per alert: every trigger of one alert folds into one incident, even after a crash."""
    digest = hashlib.sha256(f"{message.fingerprint}:{message.alert_id}".encode()).hexdigest()
    return f"tickettoken-alert-{message.alert_id}-{digest[:20]}"


class PagerDutyChannel(Channel):
    """PagerDuty through an Events API v2 integration (routing) key."""

    kind = "pagerduty"
    required_fields = ("routing_key",)
    optional_fields = ("source",)
    secret_fields = ("routing_key",)

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> dict[str, Any]:
        config = super().validate_config(config)
        errors: dict[str, list[str]] = {}
        key = config["routing_key"].strip() if isinstance(config["routing_key"], str) else ""
        if not ROUTING_KEY.match(key):
            errors["routing_key"] = [
                "Expected the 32-character integration key of an Events API v2 integration."
            ]
        cleaned: dict[str, Any] = {"routing_key": key}
        source = config.get("source")
        if source is not None:
            if not isinstance(source, str) or not 0 < len(source.strip()) <= 255:
                errors["source"] = ["Expected a name of at most 255 characters."]
            else:
                cleaned["source"] = source.strip()
        if errors:
            raise ValidationError(errors)
        return cleaned

    def build(self, message: AlertMessage) -> dict[str, Any]:
        """The event: ``trigger`` (firing, escalated, reminder, test), acknowledge, resolve."""
        action = ACTIONS.get(message.event, "trigger")
        event: dict[str, Any] = {
            "routing_key": self.config.get("routing_key", ""),
            "event_action": action,
            "dedup_key": dedup_key(message),
        }
        if action != "trigger":
            return event
        context = message_context(message)
        payload: dict[str, Any] = {
            "summary": one_line(render("pagerduty_summary.txt", context), SUMMARY_LIMIT),
            "source": self._source(message),
            "severity": SEVERITY_MAP.get(message.severity, "error"),
            "timestamp": iso_time(message.started_at),
            "class": message.rule_name,
            "custom_details": _details(message, context),
        }
        if message.labels.get("service"):
            payload["component"] = message.labels["service"]
        links = [{"href": message.url, "text": "View alert"}]
        if message.ack_url:
            links.append({"href": message.ack_url, "text": "Acknowledge"})
        return {
            **event,
            "payload": payload,
            "client": CLIENT,
            "client_url": message.url,
            "links": links,
        }

    def send(self, message: AlertMessage) -> Receipt:
        if not self.config.get("routing_key"):
            raise ChannelError("PagerDuty channel has no routing_key", permanent=True)
        receipt = _enqueue(self.build(message))
        if message.event == "test":
            # A test proves the integration without leaving an open incident behind.
            _enqueue(
                {
                    "routing_key": self.config["routing_key"],
                    "event_action": "resolve",
                    "dedup_key": dedup_key(message),
                }
            )
            receipt.detail = "test incident triggered and resolved"
        return receipt

    def _source(self, message: AlertMessage) -> str:
        configured = self.config.get("source")
        if configured:
            return configured
        for label in ("instance", "service"):
            if message.labels.get(label):
                return message.labels[label]
        return urlsplit(settings.SITE_URL).hostname or "tickettoken-monitoring"


def _details(message: AlertMessage, context: dict[str, Any]) -> dict[str, Any]:
    return {
        "rule": message.rule_name,
        "event": message.event,
        "value": message.value,
        "threshold": message.threshold,
        "operator": message.operator,
        "comparison": (
            f"{context['value_text']} {message.operator} {context['threshold_text']}"
            if context["has_comparison"]
            else ""
        ),
        "labels": dict(sorted(message.labels.items())),
        "description": message.description,
        "started_at": iso_time(message.started_at),
        "escalation_level": message.escalation_level,
        "fingerprint": message.fingerprint,
    }


def _enqueue(event: dict[str, Any]) -> Receipt:
    response = http.post(
        settings.PAGERDUTY_EVENTS_URL,
        body=json.dumps(event).encode(),
        headers={"Content-Type": "application/json", "User-Agent": "tickettoken-monitoring"},
        guarded=False,
        follow_redirects=False,
    )
    try:
        answer = response.json()
    except ValueError:
        answer = {}
    key = answer.get("dedup_key") if isinstance(answer, dict) else None
    return Receipt(
        status=response.status_code,
        message_id=str(key or event["dedup_key"]),
        detail=str(answer.get("message", "")) if isinstance(answer, dict) else "",
    )
