"""PagerDuty: trigger, acknowledge and resolve one incident per alert.

Two modes, chosen by the channel's configuration: an Events API v2 integration (``routing_key``,
the one to prefer: the integration API meant for monitoring tools) or the REST API v2
(``api_key``, ``service_id``, ``from``: the original service's ``PAGERDUTY_API_KEY`` and
``PAGERDUTY_SERVICE_ID``; see ``pagerduty_rest``). Both fold every message of one alert into
one incident through the same key (``dedup_key`` / ``incident_key``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

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
from alerts.channels.pagerduty_rest import RestClient, build_incident, build_update
from alerts.severity import UNKNOWN_PAGERDUTY_SEVERITY, Severity

logger = logging.getLogger(__name__)

ROUTING_KEY = re.compile(r"^[A-Za-z0-9]{32}\Z")
API_KEY = re.compile(r"^[A-Za-z0-9_+=\-]{16,128}\Z")
SERVICE_ID = re.compile(r"^[A-Z0-9]{5,20}\Z")
EVENTS_FIELDS = ("routing_key", "source")
REST_FIELDS = ("api_key", "service_id", "from")
SUMMARY_LIMIT = 1024
ACTIONS = {"acknowledged": "acknowledge", "resolved": "resolve"}
CLIENT = "TicketToken monitoring"


def dedup_key(message: AlertMessage) -> str:
    """Stable per alert: every trigger of one alert folds into one incident, even after a crash."""
    digest = hashlib.sha256(f"{message.fingerprint}:{message.alert_id}".encode()).hexdigest()
    return f"tickettoken-alert-{message.alert_id}-{digest[:20]}"


def uses_rest_api(config: dict[str, Any]) -> bool:
    """True for the REST API mode (api_key, service_id, from), False for Events API v2."""
    return not config.get("routing_key") and any(config.get(f) for f in REST_FIELDS)


class PagerDutyChannel(Channel):
    """PagerDuty through an Events API v2 routing key, or the REST API v2 with an API key."""

    kind = "pagerduty"
    optional_fields = EVENTS_FIELDS + REST_FIELDS
    # Events v2's routing key and the REST API's token are write-only in the admin.
    secret_fields = ("routing_key", "api_key")

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> dict[str, Any]:
        config = super().validate_config(config)
        errors: dict[str, list[str]] = {}
        if uses_rest_api(config):
            cleaned = _rest_config(config, errors)
        else:
            cleaned = _events_config(config, errors)
        if errors:
            raise ValidationError(errors)
        return cleaned

    def build(self, message: AlertMessage) -> dict[str, Any]:
        """Events API: the event (``trigger`` for firing, escalated, reminder and test;
        ``acknowledge``; ``resolve``). REST API: the new incident, or the status update."""
        if uses_rest_api(self.config):
            if message.event in ACTIONS:
                return build_update(message.event)
            service_id = self.config.get("service_id", "")
            return build_incident(message, service_id=service_id, incident_key=dedup_key(message))
        return self._event(message)

    def _event(self, message: AlertMessage) -> dict[str, Any]:
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
            "severity": _severity(message.severity),
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
        if uses_rest_api(self.config):
            return self._send_rest(message)
        if not self.config.get("routing_key"):
            raise ChannelError("PagerDuty channel has no routing_key", permanent=True)
        receipt = _enqueue(self._event(message))
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

    def _send_rest(self, message: AlertMessage) -> Receipt:
        missing = [name for name in REST_FIELDS if not self.config.get(name)]
        if missing:
            raise ChannelError(f"PagerDuty channel has no {', '.join(missing)}", permanent=True)
        client = RestClient(
            api_key=self.config["api_key"],
            service_id=self.config["service_id"],
            sender=self.config["from"],
        )
        key = dedup_key(message)
        if message.event in ACTIONS:  # acknowledged, resolved
            return client.change(key, message.event)
        receipt = client.trigger(self.build(message), key)
        if message.event == "test":
            # A test proves the API key, service and user without leaving an incident open.
            client.change(key, "resolved")
            receipt.detail = "test incident created and resolved"
        return receipt

    def _source(self, message: AlertMessage) -> str:
        configured = self.config.get("source")
        if configured:
            return configured
        for label in ("instance", "service"):
            if message.labels.get(label):
                return message.labels[label]
        return urlsplit(settings.SITE_URL).hostname or "tickettoken-monitoring"


def _events_config(config: dict[str, Any], errors: dict[str, list[str]]) -> dict[str, Any]:
    for name in REST_FIELDS:
        if config.get(name):
            errors[name] = [
                "Use either routing_key (Events API v2) or api_key, service_id and from "
                "(REST API v2), not both."
            ]
    raw = config.get("routing_key")
    key = raw.strip() if isinstance(raw, str) else ""
    if not key:
        errors["routing_key"] = [
            "Set routing_key (Events API v2), or api_key, service_id and from (REST API v2)."
        ]
    elif not ROUTING_KEY.match(key):
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
    return cleaned


def _rest_config(config: dict[str, Any], errors: dict[str, list[str]]) -> dict[str, Any]:
    if config.get("source") is not None:
        errors["source"] = ["Only for Events API v2 (routing_key) channels."]
    cleaned = {name: _text(config.get(name)) for name in REST_FIELDS}
    checks: dict[str, tuple[Callable[[str], object], str]] = {
        "api_key": (API_KEY.match, "Expected a PagerDuty REST API key (16 to 128 characters)."),
        "service_id": (SERVICE_ID.match, "Expected a PagerDuty service ID such as PWIXJZS."),
        "from": (_is_email, "Expected the e-mail address of a PagerDuty user."),
    }
    for name, (valid, problem) in checks.items():
        if not cleaned[name]:
            errors[name] = ["This field is required for the REST API v2 (or set routing_key)."]
        elif not valid(cleaned[name]):
            errors[name] = [problem]
    return cleaned


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _is_email(value: str) -> bool:
    try:
        validate_email(value)
    except ValidationError:
        return False
    return True


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


def _severity(severity: str) -> str:
    known = Severity.of(severity)
    return known.pagerduty_severity if known is not None else UNKNOWN_PAGERDUTY_SEVERITY
