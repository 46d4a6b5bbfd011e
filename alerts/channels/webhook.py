"""Generic webhooks: Alertmanager's webhook JSON, signed with HMAC-SHA256 under a channel secret.

Receivers written for Prometheus Alertmanager work unchanged; receivers that check the signature
compute ``hmac_sha256(secret, raw_body)`` and compare it with ``X-Signature-256: sha256=<hex>``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError

from alerts.channels import http
from alerts.channels.base import (
    AlertMessage,
    Channel,
    ChannelError,
    Receipt,
    format_value,
    iso_time,
    validate_http_url,
)

SIGNATURE_HEADER = "X-Signature-256"
# The IETF draft's header name (draft-ietf-httpapi-idempotency-key-header), also in the body.
IDEMPOTENCY_HEADER = "Idempotency-Key"
MIN_SECRET_LENGTH = 16
DEFAULT_RECEIVER = "tickettoken-monitoring"
# Alertmanager's "zero" time, sent as endsAt while an alert is still firing.
ZERO_TIME = "0001-01-01T00:00:00Z"


@dataclass(frozen=True)
class WebhookRequest:
    """The exact bytes to POST, and the headers (the signature among them)."""

    url: str
    body: bytes
    headers: dict[str, str]

    def json(self) -> dict[str, Any]:
        return json.loads(self.body)


def sign(secret: str, body: bytes) -> str:
    """The value of the signature header for ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class WebhookChannel(Channel):
    """An HTTPS endpoint that receives Alertmanager-format JSON."""

    kind = "webhook"
    required_fields = ("url", "secret")
    optional_fields = ("receiver",)
    secret_fields = ("secret",)

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> dict[str, Any]:
        config = super().validate_config(config)
        errors: dict[str, list[str]] = {}
        cleaned: dict[str, Any] = {"url": validate_http_url(config["url"], "url", errors)}
        secret = config["secret"]
        if not isinstance(secret, str) or len(secret) < MIN_SECRET_LENGTH:
            errors["secret"] = [f"Use a random secret of at least {MIN_SECRET_LENGTH} characters."]
        cleaned["secret"] = secret
        receiver = config.get("receiver")
        if receiver is not None:
            if not isinstance(receiver, str) or not 0 < len(receiver) <= 100:
                errors["receiver"] = ["Expected a name of at most 100 characters."]
            cleaned["receiver"] = receiver
        if errors:
            raise ValidationError(errors)
        return cleaned

    def build(self, message: AlertMessage) -> WebhookRequest:
        document = alertmanager_document(message, self.config.get("receiver") or DEFAULT_RECEIVER)
        if message.idempotency_key:
            document["idempotencyKey"] = message.idempotency_key
        body = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "tickettoken-monitoring",
            "X-Alert-Event": message.event,
            SIGNATURE_HEADER: sign(self.config.get("secret", ""), body),
        }
        if message.idempotency_key:
            headers[IDEMPOTENCY_HEADER] = message.idempotency_key
        return WebhookRequest(url=self.config.get("url", ""), body=body, headers=headers)

    def send(self, message: AlertMessage) -> Receipt:
        request = self.build(message)
        if not request.url:
            raise ChannelError("webhook channel has no url", permanent=True)
        response = http.post(
            request.url,
            body=request.body,
            headers=request.headers,
            guarded=True,
            follow_redirects=True,
        )
        return Receipt(
            status=response.status_code,
            message_id=response.headers.get("X-Request-Id", ""),
            detail=" ".join(response.text[:200].split()),
        )


def alertmanager_document(message: AlertMessage, receiver: str) -> dict[str, Any]:
    """Alertmanager's webhook body (version 4) holding this one alert."""
    status = "resolved" if message.event == "resolved" else "firing"
    labels = dict(
        sorted(
            {**message.labels, "alertname": message.rule_name, "severity": message.severity}.items()
        )
    )
    annotations = _annotations(message)
    alert = {
        "status": status,
        "labels": labels,
        "annotations": annotations,
        "startsAt": iso_time(message.started_at),
        "endsAt": iso_time(message.resolved_at) if message.resolved_at else ZERO_TIME,
        "generatorURL": message.url,
        "fingerprint": message.fingerprint,
    }
    return {
        "version": "4",
        "groupKey": f'{{}}:{{alertname="{message.rule_name}"}}',
        "truncatedAlerts": 0,
        "status": status,
        "receiver": receiver,
        "groupLabels": {"alertname": message.rule_name},
        "commonLabels": labels,
        "commonAnnotations": annotations,
        "externalURL": settings.SITE_URL,
        "alerts": [alert],
    }


def _annotations(message: AlertMessage) -> dict[str, str]:
    """Alertmanager annotations are strings; empty ones are left out."""
    candidates = {
        "summary": message.summary,
        "description": message.description,
        "value": format_value(message.value) if message.value is not None else "",
        "threshold": format_value(message.threshold) if message.threshold is not None else "",
        "operator": message.operator,
        "event": message.event,
        "acknowledged_by": message.acknowledged_by,
        "escalation_level": str(message.escalation_level or ""),
        "ack_url": message.ack_url if message.event not in ("resolved", "acknowledged") else "",
    }
    return {key: value for key, value in candidates.items() if value}
