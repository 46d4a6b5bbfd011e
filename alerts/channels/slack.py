"""Slack: an incoming webhook (``WebhookClient``) or a bot token (``chat_postMessage``)."""

from __future__ import annotations

import http.client
import logging
import math
import re
import urllib.error
import urllib.request
from dataclasses import replace
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from slack_sdk import WebClient, WebhookClient
from slack_sdk.errors import SlackApiError, SlackRequestError
from slack_sdk.webhook import WebhookResponse

from alerts.channels.base import (
    AlertMessage,
    Channel,
    ChannelError,
    Receipt,
    classify_http_status,
    message_context,
    one_line,
    render,
    retry_after_seconds,
    validate_http_url,
)
from alerts.severity import UNKNOWN_SLACK_ICON, Severity
from monitoring_site.netguard import BlockedAddress, guarded_opener, plain_opener

logger = logging.getLogger(__name__)

# Channel names: lower case letters, digits, hyphens, underscores and periods, up to 80; or an ID.
CHANNEL_NAME = re.compile(r"^#?[a-z0-9][a-z0-9._-]{0,79}\Z")
CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{6,}\Z")
TOKEN = re.compile(r"^xox[abpe]-[A-Za-z0-9-]{4,}\Z")
# Events with their own icon; the others take their severity's (Severity.slack_icon).
EVENT_ICONS = {
    "resolved": ":white_check_mark:",
    "acknowledged": ":eyes:",
    "test": ":test_tube:",
}
# Web API errors (HTTP 200, "ok": false) that are worth retrying; every other one is permanent.
TRANSIENT_API_ERRORS = frozenset(
    {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)


class SlackChannel(Channel):
    """Slack, through an incoming webhook URL or a bot token and a channel."""

    kind = "slack"
    optional_fields = ("webhook_url", "token", "channel")
    secret_fields = ("webhook_url", "token")

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> dict[str, Any]:
        config = super().validate_config(config)
        errors: dict[str, list[str]] = {}
        if config.get("webhook_url"):
            if config.get("token"):
                errors["token"] = ["Set either webhook_url or token and channel, not both."]
            cleaned = {
                "webhook_url": validate_http_url(config["webhook_url"], "webhook_url", errors)
            }
        elif config.get("token"):
            cleaned = {
                "token": _token(config["token"], errors),
                "channel": _channel(config.get("channel"), errors),
            }
        else:
            errors["webhook_url"] = ["Set webhook_url, or token and channel."]
            cleaned = {}
        if errors:
            raise ValidationError(errors)
        return cleaned

    def build(self, message: AlertMessage) -> dict[str, Any]:
        """The chat.postMessage / webhook body: fallback text and Block Kit blocks."""
        context = message_context(_escaped(message), icon=_icon(message))
        blocks: list[dict[str, Any]] = [
            {
                "type": "header",
                "text": {
                    "type": "plain_text",
                    "text": one_line(render("slack_title.txt", context), 150),
                    "emoji": True,
                },
            },
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": _cap(render("slack_body.txt", context))},
            },
        ]
        if message.labels:
            labels = "  ".join(f"`{key}={value}`" for key, value in context["labels_sorted"])
            blocks.append(
                {"type": "context", "elements": [{"type": "mrkdwn", "text": _cap(labels)}]}
            )
        blocks.append({"type": "actions", "elements": _buttons(message)})
        payload: dict[str, Any] = {
            "text": one_line(render("slack_fallback.txt", context), 3000),
            "blocks": blocks,
        }
        if not self.config.get("webhook_url") and self.config.get("channel"):
            payload = {"channel": self.config["channel"], **payload}
        return payload

    def send(self, message: AlertMessage) -> Receipt:
        payload = self.build(message)
        if self.config.get("webhook_url"):
            return _send_webhook(self.config["webhook_url"], payload)
        if not self.config.get("token"):
            raise ChannelError("Slack channel has neither webhook_url nor token", permanent=True)
        return _send_api(self.config["token"], payload)


def _buttons(message: AlertMessage) -> list[dict[str, Any]]:
    buttons: list[dict[str, Any]] = [
        {
            "type": "button",
            "action_id": "view_alert",
            "text": {"type": "plain_text", "text": "View alert"},
            "url": message.url,
        }
    ]
    if message.ack_url and message.event not in ("resolved", "acknowledged"):
        buttons.append(
            {
                "type": "button",
                "action_id": "acknowledge",
                "style": "primary",
                "text": {"type": "plain_text", "text": "Acknowledge"},
                "url": message.ack_url,
            }
        )
    return buttons


def _icon(message: AlertMessage) -> str:
    severity = Severity.of(message.severity)
    icon = severity.slack_icon if severity is not None else UNKNOWN_SLACK_ICON
    return EVENT_ICONS.get(message.event) or icon


def _escape(text: str) -> str:
    """Slack's mrkdwn control characters; everything else is literal."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _escaped(message: AlertMessage) -> AlertMessage:
    return replace(
        message,
        rule_name=_escape(message.rule_name),
        summary=_escape(message.summary),
        description=_escape(message.description),
        acknowledged_by=_escape(message.acknowledged_by),
        operator=_escape(message.operator),
        labels={_escape(k): _escape(v) for k, v in message.labels.items()},
    )


def _cap(text: str, limit: int = 3000) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _timeout() -> int:
    return math.ceil(max(settings.CHANNEL_CONNECT_TIMEOUT, settings.CHANNEL_READ_TIMEOUT))


def _header(headers: Any, name: str) -> str | None:
    for key, value in dict(headers or {}).items():
        if key.lower() == name.lower():
            return value[0] if isinstance(value, list) else value
    return None


# slack_sdk opens connections with urllib inside one private method per client. Replacing that
# method (and nothing else) lets every connection pass the SSRF guard and stops urllib from
# following redirects, while the clients keep their request building and error handling.
# slack_sdk is pinned; tests/alerts/channels exercise both clients against a real HTTP server.
class _GuardedWebhookClient(WebhookClient):
    def _perform_http_request_internal(
        self, url: str, req: urllib.request.Request
    ) -> WebhookResponse:
        if not url.lower().startswith(("http://", "https://")):
            raise SlackRequestError(f"Invalid URL detected: {url}")
        with guarded_opener(self.ssl).open(req, timeout=self.timeout) as resp:
            body = resp.read().decode(resp.headers.get_content_charset() or "utf-8")
            return WebhookResponse(
                url=url, status_code=resp.status, body=body, headers=resp.headers
            )


class _NoRedirectWebClient(WebClient):
    def _perform_urllib_http_request_internal(
        self, url: str, req: urllib.request.Request
    ) -> dict[str, Any]:
        if not url.lower().startswith(("http://", "https://")):
            raise SlackRequestError(f"Invalid URL detected: {url}")
        with plain_opener(self.ssl).open(req, timeout=self.timeout) as resp:
            body = resp.read().decode(resp.headers.get_content_charset() or "utf-8")
            return {"status": resp.code, "headers": resp.headers, "body": body}


def _send_webhook(url: str, payload: dict[str, Any]) -> Receipt:
    client = _GuardedWebhookClient(url, timeout=_timeout(), retry_handlers=[])
    try:
        response = client.send_dict(payload)
    except BlockedAddress as exc:
        raise ChannelError(str(exc), permanent=True) from exc
    except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
        raise ChannelError(f"Slack webhook unreachable: {_reason(exc)}", permanent=False) from exc
    if 200 <= response.status_code < 300:
        request_id = _header(response.headers, "x-slack-req-id") or ""
        return Receipt(
            status=response.status_code, message_id=request_id, detail=response.body[:200]
        )
    retry_after = retry_after_seconds(_header(response.headers, "retry-after"))
    raise classify_http_status(response.status_code, response.body[:200], retry_after)


def _send_api(token: str, payload: dict[str, Any]) -> Receipt:
    client = _NoRedirectWebClient(
        token=token, base_url=settings.SLACK_API_URL, timeout=_timeout(), retry_handlers=[]
    )
    try:
        response = client.chat_postMessage(**payload)
    except SlackApiError as exc:
        raise _api_error(exc) from exc
    except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
        raise ChannelError(f"Slack API unreachable: {_reason(exc)}", permanent=False) from exc
    return Receipt(
        status=response.status_code,
        message_id=str(response.get("ts") or ""),
        detail=str(response.get("channel") or ""),
    )


def _api_error(exc: SlackApiError) -> ChannelError:
    response = exc.response
    status = int(response.status_code)
    data = response.data if isinstance(response.data, dict) else {}
    error = str(data.get("error") or "unknown_error")
    retry_after = retry_after_seconds(_header(response.headers, "retry-after"))
    if status == 200:
        permanent = error not in TRANSIENT_API_ERRORS
        return ChannelError(
            f"Slack API error: {error}", permanent=permanent, retry_after=retry_after, status=status
        )
    return classify_http_status(status, f"Slack API error: {error}", retry_after)


def _reason(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None)
    return str(reason or exc) or type(exc).__name__


def _token(value: Any, errors: dict[str, list[str]]) -> str:
    token = value.strip() if isinstance(value, str) else ""
    if not TOKEN.match(token):
        errors.setdefault("token", []).append("Expected a Slack token such as xoxb-….")
    return token


def _channel(value: Any, errors: dict[str, list[str]]) -> str:
    channel = value.strip() if isinstance(value, str) else ""
    if not channel:
        errors.setdefault("channel", []).append("This field is required with a token.")
    elif not (CHANNEL_NAME.match(channel) or CHANNEL_ID.match(channel)):
        errors.setdefault("channel", []).append(
            "Expected a channel name (lower case letters, digits, - _ ., at most 80) "
            "such as #alerts, or a channel ID such as C0123456789."
        )
    return channel
