"""One-click acknowledge links: signed (alert, channel, outbox row), expiring, single-use."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.urls import reverse

SALT = "alerts.notifications.ack-link"


@dataclass(frozen=True)
class AckClaim:
    """What a valid link names: the alert, the channel it was sent to, and its outbox row."""

    alert_id: int
    channel_id: int
    notification_id: int


class LinkInvalid(Exception):
    """The link was tampered with or is not one of ours."""


class LinkExpired(Exception):
    """The link is older than ACK_LINK_TTL."""


def make_token(*, alert_id: int, channel_id: int, notification_id: int) -> str:
    value = {"a": alert_id, "c": channel_id, "n": notification_id}
    return signing.dumps(value, salt=SALT, compress=False)


def ack_url(*, alert_id: int, channel_id: int, notification_id: int) -> str:
    token = make_token(alert_id=alert_id, channel_id=channel_id, notification_id=notification_id)
    return settings.SITE_URL + reverse("alert-ack-link", args=[token])


def read_token(token: str) -> AckClaim:
    """The claim of a valid, unexpired token; raises LinkInvalid or LinkExpired."""
    try:
        value = signing.loads(token, salt=SALT, max_age=settings.ACK_LINK_TTL)
    except signing.SignatureExpired:
        raise LinkExpired from None
    except signing.BadSignature:
        raise LinkInvalid from None
    try:
        return AckClaim(int(value["a"]), int(value["c"]), int(value["n"]))
    except (KeyError, TypeError, ValueError):
        raise LinkInvalid from None
