"""The demo's webhook channel, linked to the built-in Service Down rule (a status-page hook).

Email, Slack and PagerDuty come from the environment bin/demo sets (bootstrap seeds them, as for
any installation); a webhook channel has no environment variable, so the simulator adds it,
through the alerts services, when it starts the receivers.
"""

from __future__ import annotations

import secrets

from django.db import transaction

from alerts.health_alerts import service_down_rule
from alerts.models import NotificationChannel
from alerts.notifications.services import save_channel
from alerts.rules.services import update_rule

NAME = "Demo webhook"


@transaction.atomic
def ensure_demo_webhook(*, url: str) -> str:
    """Create (or re-point) the demo webhook channel and link it to ``service_down``."""
    channel = NotificationChannel.objects.filter(name=NAME).first()
    if channel is None:
        channel = NotificationChannel(name=NAME, kind="webhook", for_rule_kinds=False)
        channel.config = {"url": url, "secret": secrets.token_urlsafe(24), "receiver": "demo"}
    elif channel.config.get("url") != url:
        channel.config = {**channel.config, "url": url}
    else:
        return "kept"
    channel.full_clean()
    save_channel(channel=channel, user=None, reason="demo receivers")
    rule = service_down_rule()
    if rule is not None and not rule.notification_channels.filter(pk=channel.pk).exists():
        linked = [*rule.notification_channels.all(), channel]
        update_rule(rule=rule, changes={"notification_channels": linked}, user=None)
    return "saved"
