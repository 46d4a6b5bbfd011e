"""The acknowledge link's page: GET only shows a confirmation; its POST acknowledges.

Link scanners in mail systems fetch every link in a message; since a GET changes nothing, they
cannot acknowledge an alert. A link works once, for one alert, until ACK_LINK_TTL.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views import View

from alerts.models import Alert, Notification
from alerts.notifications import links
from alerts.notifications.messages import alert_url
from alerts.services import InvalidTransition, acknowledge_alert

logger = logging.getLogger(__name__)
TEMPLATE = "alerts/ack/{}.html"


class AckLinkView(View):
    """``/alerts/ack/<token>``: confirm (GET), then acknowledge (POST)."""

    def get(self, request: HttpRequest, token: str) -> HttpResponse:
        found = _resolve(request, token)
        if isinstance(found, HttpResponse):
            return found
        notification, alert = found
        if not alert.can_acknowledge():
            return _already(request, alert)
        return _page(request, "confirm", {"alert": alert, "channel": notification.channel})

    def post(self, request: HttpRequest, token: str) -> HttpResponse:
        found = _resolve(request, token)
        if isinstance(found, HttpResponse):
            return found
        notification, alert = found
        actor = f"{notification.channel.name} (acknowledge link)"
        try:
            with transaction.atomic():
                used = Notification.objects.filter(
                    pk=notification.pk, ack_used_at__isnull=True
                ).update(ack_used_at=timezone.now())
                if not used:
                    return _page(request, "used", {"alert": alert}, status=410)
                alert = acknowledge_alert(alert=alert, user=None, actor=actor)
        except InvalidTransition:
            return _already(request, Alert.objects.get(pk=alert.pk))
        logger.info("alert acknowledged by link", extra={"alert": alert.pk, "actor": actor})
        return _page(request, "done", {"alert": alert, "channel": notification.channel})


def _resolve(request: HttpRequest, token: str) -> tuple[Notification, Alert] | HttpResponse:
    """The link's outbox row and alert, or the page that says why the link does not work."""
    try:
        claim = links.read_token(token)
    except links.LinkExpired:
        return _page(request, "expired", {}, status=410)
    except links.LinkInvalid:
        return _page(request, "invalid", {}, status=400)
    notification = (
        Notification.objects.select_related("channel", "alert")
        .filter(pk=claim.notification_id, alert_id=claim.alert_id, channel_id=claim.channel_id)
        .first()
    )
    if notification is None or notification.alert is None:
        return _page(request, "invalid", {}, status=404)
    if notification.ack_used_at is not None:
        return _page(request, "used", {"alert": notification.alert}, status=410)
    return notification, notification.alert


def _already(request: HttpRequest, alert: Alert) -> HttpResponse:
    return _page(request, "closed", {"alert": alert}, status=409)


def _page(
    request: HttpRequest, name: str, context: dict[str, Any], *, status: int = 200
) -> HttpResponse:
    alert = context.get("alert")
    if alert is not None:
        context["alert_url"] = alert_url(alert.pk)
    response = render(request, TEMPLATE.format(name), context, status=status)
    response["Cache-Control"] = "no-store"
    # The token is in the URL: it may not leave in a Referer to another origin. "no-referrer"
    # would also make browsers send "Origin: null" with the confirmation's POST, which Django's
    # CSRF check refuses (a real browser could never acknowledge).
    response["Referrer-Policy"] = "same-origin"
    response["X-Robots-Tag"] = "noindex"
    return response
