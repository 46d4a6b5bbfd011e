"""Email through Django's mail API: SMTP, or a django-anymail provider when one is configured."""

from __future__ import annotations

import logging
import smtplib
from dataclasses import dataclass, field
from email.utils import make_msgid, parseaddr
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import BadHeaderError, EmailMultiAlternatives, get_connection
from django.core.validators import validate_email

from alerts.channels.base import (
    AlertMessage,
    Channel,
    ChannelError,
    Receipt,
    message_context,
    one_line,
    render,
)
from alerts.severity import UNKNOWN_COLOUR, Severity

logger = logging.getLogger(__name__)

MAX_RECIPIENTS = 50
SUBJECT_LIMIT = 200


@dataclass(frozen=True)
class EmailPayload:
    """One email: subject, plain text and HTML parts, envelope and extra headers."""

    subject: str
    text: str
    html: str
    from_email: str
    to: tuple[str, ...]
    headers: dict[str, str] = field(default_factory=dict)


class EmailChannel(Channel):
    """Email to a list of addresses, with a plain text and an HTML part."""

    kind = "email"
    required_fields = ("to",)
    optional_fields = ("from",)

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> dict[str, Any]:
        config = super().validate_config(config)
        errors: dict[str, list[str]] = {}
        to = _address_list(config["to"], "to", errors)
        cleaned: dict[str, Any] = {"to": to}
        if config.get("from"):
            cleaned["from"] = _address(config["from"], "from", errors)
        if errors:
            raise ValidationError(errors)
        return cleaned

    def from_email(self) -> str:
        return self.config.get("from") or settings.ALERT_FROM_EMAIL

    def recipients(self) -> tuple[str, ...]:
        to = self.config.get("to") or ()
        return tuple(a.strip() for a in to.split(",")) if isinstance(to, str) else tuple(to)

    def build(self, message: AlertMessage) -> EmailPayload:
        context = message_context(message, color=_colour(message.severity))
        sender = self.from_email()
        domain = _domain(sender) or "localhost"
        thread = f"<alert-{message.alert_id}.{message.fingerprint[:16]}@{domain}>"
        headers = {
            # Every email about one alert lands in one thread in the reader's mail client.
            "References": thread,
            "X-Alert-Id": str(message.alert_id),
            "X-Alert-Event": message.event,
            "X-Alert-Severity": message.severity,
        }
        if message.idempotency_key:
            # A resend after a crash is the same message: mail systems drop a repeated
            # Message-ID, and the key is there for any other filter.
            headers["Message-ID"] = f"<notification.{message.idempotency_key}@{domain}>"
            headers["X-Idempotency-Key"] = message.idempotency_key
        return EmailPayload(
            subject=one_line(render("email_subject.txt", context), SUBJECT_LIMIT),
            text=render("email_body.txt", context) + "\n",
            html=render("email_body.html", context) + "\n",
            from_email=sender,
            to=self.recipients(),
            headers=headers,
        )

    def send(self, message: AlertMessage) -> Receipt:
        require_transport()
        payload = self.build(message)
        email = _to_django_email(payload)
        try:
            email.send(fail_silently=False)
        except Exception as exc:
            raise classify_smtp_error(exc) from exc
        anymail_id = _anymail_message_id(email)
        return Receipt(
            status=None if anymail_id else 250,
            message_id=anymail_id or email.extra_headers["Message-ID"],
            detail=f"accepted for {len(payload.to)} recipient(s)",
        )


def require_transport() -> None:
    """Without SMTP_HOST or a provider, Django prints mail to the console: not a delivery."""
    if settings.EMAIL_BACKEND.endswith("console.EmailBackend") and not settings.DEBUG:
        raise ChannelError(
            "email is not configured: set SMTP_HOST, or EMAIL_BACKEND to a django-anymail provider",
            permanent=True,
        )


def _to_django_email(payload: EmailPayload) -> EmailMultiAlternatives:
    domain = _domain(payload.from_email) or None
    headers = {"Message-ID": make_msgid("alert", domain=domain), **payload.headers}
    email = EmailMultiAlternatives(
        subject=payload.subject,
        body=payload.text,
        from_email=payload.from_email,
        to=list(payload.to),
        headers=headers,
        connection=get_connection(fail_silently=False),
    )
    email.attach_alternative(payload.html, "text/html")
    return email


def _anymail_message_id(email: EmailMultiAlternatives) -> str:
    status = getattr(email, "anymail_status", None)
    return str(status.message_id) if status is not None and status.message_id else ""


def classify_smtp_error(exc: Exception) -> ChannelError:
    """SMTP 4xx is transient, 5xx and bad addresses permanent; connection trouble transient."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _text in exc.recipients.values()]
        refused = ", ".join(f"{addr}: {code}" for addr, (code, _t) in exc.recipients.items())
        transient = bool(codes) and all(400 <= code < 500 for code in codes)
        return ChannelError(
            f"recipients refused ({refused})",
            permanent=not transient,
            status=max(codes or [0]) or None,
        )
    if isinstance(exc, smtplib.SMTPResponseException):
        code = int(exc.smtp_code)
        text = _text(exc.smtp_error)
        return ChannelError(f"SMTP {code}: {text}", permanent=not 400 <= code < 500, status=code)
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return ChannelError(f"SMTP server does not support it: {exc}", permanent=True)
    if isinstance(exc, BadHeaderError | ValueError):
        return ChannelError(f"invalid message or address: {exc}", permanent=True)
    if isinstance(exc, OSError):  # includes SMTPServerDisconnected and timeouts
        return ChannelError(f"SMTP connection failed: {exc}", permanent=False)
    return _classify_anymail(exc)


def _classify_anymail(exc: Exception) -> ChannelError:
    status = getattr(exc, "status_code", None)
    name = type(exc).__name__
    if name == "AnymailRecipientsRefused":
        return ChannelError(f"{name}: {exc}", permanent=True, status=status)
    if status is not None and (status == 429 or status >= 500):
        return ChannelError(f"{name}: {exc}", permanent=False, status=status)
    if status is not None:
        return ChannelError(f"{name}: {exc}", permanent=True, status=status)
    return ChannelError(f"{name}: {exc}", permanent=False)


def _domain(address: str) -> str:
    return parseaddr(address)[1].rpartition("@")[2]


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _address(value: Any, name: str, errors: dict[str, list[str]]) -> str:
    address = value.strip() if isinstance(value, str) else ""
    try:
        validate_email(address)
    except ValidationError:
        errors.setdefault(name, []).append(f"{value!r} is not a valid email address.")
    return address


def _address_list(value: Any, name: str, errors: dict[str, list[str]]) -> list[str]:
    if isinstance(value, str):
        items = [item.strip() for item in value.split(",") if item.strip()]
    elif isinstance(value, list | tuple):
        items = list(value)
    else:
        errors.setdefault(name, []).append("Expected a list of email addresses.")
        return []
    if len(items) > MAX_RECIPIENTS:
        errors.setdefault(name, []).append(f"At most {MAX_RECIPIENTS} addresses.")
    return [_address(item, name, errors) for item in items]


def _colour(severity: str) -> str:
    known = Severity.of(severity)
    return known.colour if known is not None else UNKNOWN_COLOUR
