"""The contract every notification channel implements, and the registry of kinds.

``build(message)`` is pure: the same message gives the same payload, so payloads are tested
exactly. ``send(message)`` is one call to the vendor that returns a ``Receipt`` or raises
``ChannelError``; retrying, pacing and recording attempts belong to the outbox, not here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.module_loading import import_string

from monitoring_site.netguard import literal_address_refusal, webhook_policy

EVENTS = ("firing", "acknowledged", "resolved", "test", "escalated", "reminder")

# The registry: kind -> (label, class). Every list of kinds is derived from it.
REGISTRY = {
    "email": ("Email", "alerts.channels.email.EmailChannel"),
    "slack": ("Slack", "alerts.channels.slack.SlackChannel"),
    "pagerduty": ("PagerDuty", "alerts.channels.pagerduty.PagerDutyChannel"),
    "webhook": ("Webhook", "alerts.channels.webhook.WebhookChannel"),
}
CHANNEL_KINDS = tuple(REGISTRY)
# (value, label) pairs, for NotificationChannel.Kind.
CHANNEL_KIND_CHOICES = [(kind, label) for kind, (label, _) in REGISTRY.items()]
TEMPLATE_DIR = "alerts/notifications"


@dataclass(frozen=True)
class AlertMessage:
    """What every channel is told about one alert event."""

    alert_id: int
    fingerprint: str
    event: str  # "firing" | "acknowledged" | "resolved" | "test" | "escalated" | "reminder"
    rule_name: str
    severity: str  # "info" | "warning" | "error" | "critical"
    labels: dict[str, str]
    value: float | None
    threshold: float | None
    operator: str
    summary: str
    description: str
    started_at: datetime
    resolved_at: datetime | None
    acknowledged_by: str
    url: str
    ack_url: str | None
    escalation_level: int | None
    # Resolved events: the value that resolved it (None: no data or nothing measured), how long
    # it fired (None: it never fired), and who resolved it (the engine, health, a person).
    resolved_value: float | None = None
    fired_seconds: float | None = None
    resolved_by: str = ""
    # Stable per outbox row: a resend of the same notification (after a crash) carries the same
    # key, so a receiver can drop the repeat. Empty for a message not sent through the outbox.
    idempotency_key: str = ""


@dataclass
class Receipt:
    """What the vendor answered to a delivered message."""

    status: int | None  # HTTP status or SMTP reply code
    message_id: str  # SMTP Message-ID, Slack ts, PagerDuty dedup_key, ...
    detail: str = ""


class ChannelError(Exception):
    """A failed send: ``permanent`` ones are not retried; ``retry_after`` is a floor in seconds."""

    def __init__(
        self,
        message: str,
        *,
        permanent: bool,
        retry_after: float | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent
        self.retry_after = retry_after
        self.status = status

    def __repr__(self) -> str:
        return (
            f"ChannelError({self.message!r}, permanent={self.permanent}, "
            f"retry_after={self.retry_after}, status={self.status})"
        )


class Channel:
    """A notification transport; one subclass per kind."""

    kind: ClassVar[str] = ""
    required_fields: ClassVar[tuple[str, ...]] = ()
    optional_fields: ClassVar[tuple[str, ...]] = ()
    # Config keys that grant access to the vendor: write-only in the admin, masked in history.
    secret_fields: ClassVar[tuple[str, ...]] = ()

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = dict(config)

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> dict[str, Any]:
        """The normalised config; raises ``ValidationError`` keyed by field name."""
        if not isinstance(config, dict):
            raise ValidationError({"config": ["Expected an object."]})
        errors: dict[str, list[str]] = {}
        allowed = set(cls.required_fields) | set(cls.optional_fields)
        for key in sorted(set(config) - allowed):
            errors[str(key)] = [f"Unknown field for a {cls.kind} channel."]
        for key in cls.required_fields:
            if config.get(key) in (None, "", []):
                errors.setdefault(key, []).append("This field is required.")
        if errors:
            raise ValidationError(errors)
        return dict(config)

    def build(self, message: AlertMessage) -> Any:
        raise NotImplementedError

    def send(self, message: AlertMessage) -> Receipt:
        raise NotImplementedError


def get_channel_class(kind: str) -> type[Channel]:
    """The channel class registered for ``kind``; ``KeyError`` for an unknown kind."""
    try:
        path = REGISTRY[kind][1]
    except KeyError:
        raise KeyError(f"unknown channel kind {kind!r}; expected one of {CHANNEL_KINDS}") from None
    return import_string(path)


# --- shared helpers for builders ---------------------------------------------------------------


def format_value(value: float | None) -> str:
    """A number as people read it: 12, 0.052, 1234567, 3.14159; "n/a" when there is none."""
    if value is None:
        return "n/a"
    if math.isnan(value) or math.isinf(value):
        return str(value)
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.6g}"


def format_time(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC") if moment else ""


def iso_time(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def labels_text(labels: dict[str, str]) -> str:
    return ", ".join(f"{key}={value}" for key, value in sorted(labels.items()))


def event_title(event: str) -> str:
    return {
        "firing": "Firing",
        "acknowledged": "Acknowledged",
        "resolved": "Resolved",
        "test": "Test",
        "escalated": "Escalated",
        "reminder": "Reminder",
    }.get(event, event.title())


def message_context(message: AlertMessage, **extra: Any) -> dict[str, Any]:
    """The template context shared by every kind."""
    return {
        "m": message,
        "event_title": event_title(message.event),
        "severity_upper": message.severity.upper(),
        "value_text": format_value(message.value),
        "threshold_text": format_value(message.threshold),
        "has_comparison": message.value is not None and message.threshold is not None,
        "labels_text": labels_text(message.labels),
        "labels_sorted": sorted(message.labels.items()),
        "started_text": format_time(message.started_at),
        "resolved_text": format_time(message.resolved_at),
        "is_resolved": message.event == "resolved",
        "resolution_text": resolution_text(message),
        "fired_text": format_duration(message.fired_seconds),
        "is_test": message.event == "test",
        "site_url": settings.SITE_URL,
        **extra,
    }


def format_duration(seconds: float | None) -> str:
    """A length people read: "45 s", "3 min 20 s", "2 h 5 min"; "" when there is none."""
    if seconds is None:
        return ""
    minutes, rest = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    if minutes:
        return f"{minutes} min {rest} s" if rest else f"{minutes} min"
    return f"{rest} s"


def resolution_text(message: AlertMessage) -> str:
    """What resolved the alert, e.g. "4.2, no longer > 10, after firing for 3 min 20 s"."""
    if message.event != "resolved":
        return ""
    if message.resolved_value is not None and message.threshold is not None:
        what = (
            f"{format_value(message.resolved_value)}, no longer {message.operator} "
            f"{format_value(message.threshold)}"
        )
    elif message.resolved_value is not None:
        what = f"value {format_value(message.resolved_value)}"
    elif message.resolved_by in ("", "engine"):
        what = "no data"
    else:
        what = f"by {message.resolved_by}"
    if message.fired_seconds is not None:
        return f"{what}, after firing for {format_duration(message.fired_seconds)}"
    return what


def render(name: str, context: dict[str, Any]) -> str:
    """Render ``alerts/notifications/<name>`` and strip surrounding whitespace."""
    return render_to_string(f"{TEMPLATE_DIR}/{name}", context).strip()


def one_line(text: str, limit: int) -> str:
    """Collapse whitespace (a header or summary must be one line) and cap at ``limit`` chars."""
    collapsed = " ".join(text.split())
    if len(collapsed) <= limit:
        return collapsed
    return collapsed[: limit - 1].rstrip() + "…"


def retry_after_seconds(value: str | None) -> float | None:
    """``Retry-After`` in seconds (delta-seconds or an HTTP date); None when absent or bad."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - timezone.now()).total_seconds())


def classify_http_status(
    status: int, detail: str, retry_after: float | None = None
) -> ChannelError:
    """The error for a non-2xx answer: 429 and 5xx are transient, anything else permanent."""
    if status == 429:
        return ChannelError(
            f"rate limited (429): {detail}", permanent=False, retry_after=retry_after, status=status
        )
    if status >= 500:
        return ChannelError(
            f"server error ({status}): {detail}",
            permanent=False,
            retry_after=retry_after,
            status=status,
        )
    if 300 <= status < 400:
        return ChannelError(
            f"unexpected redirect ({status}); redirects are not followed",
            permanent=True,
            status=status,
        )
    return ChannelError(f"rejected ({status}): {detail}", permanent=True, status=status)


def http_timeout() -> tuple[float, float]:
    """(connect, read) timeouts for vendor calls."""
    return (settings.CHANNEL_CONNECT_TIMEOUT, settings.CHANNEL_READ_TIMEOUT)


def validate_http_url(url: Any, field: str, errors: dict[str, list[str]]) -> str:
    """Append to ``errors`` why ``url`` is not an acceptable webhook URL; return it stripped."""

    if not isinstance(url, str) or not url.strip():
        errors.setdefault(field, []).append("Enter a URL.")
        return ""
    url = url.strip()
    parts = urlsplit(url)
    allowed = ("https", "http") if settings.ALLOW_HTTP_WEBHOOKS else ("https",)
    if parts.scheme not in allowed:
        errors.setdefault(field, []).append(
            "The URL must use https (set ALLOW_HTTP_WEBHOOKS=true to allow http)."
            if parts.scheme == "http"
            else "The URL must use https."
        )
    elif not parts.hostname:
        errors.setdefault(field, []).append("The URL has no host name.")
    elif len(url) > 2048:
        errors.setdefault(field, []).append("The URL is longer than 2048 characters.")
    else:
        reason = literal_address_refusal(parts.hostname, webhook_policy())
        if reason in ("a loopback address", "a private address"):
            errors.setdefault(field, []).append(
                f"The URL points at {reason} (set WEBHOOK_ALLOW_PRIVATE=true to allow it)."
            )
        elif reason:
            errors.setdefault(field, []).append(
                f"The URL points at {reason}, which webhooks may never reach."
            )
    return url
