"""``manage.py check_channels [--channel NAME]``: a channel check (one test message) each."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from alerts.models import NotificationChannel
from alerts.notifications.channel_check import check_channel, check_pagerduty_service


class Command(BaseCommand):
    help = (
        "Send a test message through each enabled notification channel (or the one named) and "
        "print whether it was delivered; exits 1 when any failed."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--channel", help="Only this channel (by name), even if disabled.")

    def handle(self, *args: Any, channel: str | None = None, **options: Any) -> None:
        channels = self._channels(channel)
        outcomes = [check_channel(row) for row in channels]
        if channel is None or any(row.kind == "pagerduty" for row in channels):
            service = check_pagerduty_service()
            if service is not None:
                outcomes.append(service)
        for outcome in outcomes:
            style = self.style.SUCCESS if outcome.delivered else self.style.ERROR
            self.stdout.write(style(outcome.line()))
        failed = sum(1 for outcome in outcomes if not outcome.delivered)
        self.stdout.write(f"{len(outcomes) - failed} delivered, {failed} failed")
        if failed:
            raise CommandError(f"{failed} channel(s) failed", returncode=1)

    def _channels(self, name: str | None) -> list[NotificationChannel]:
        if name is not None:
            row = NotificationChannel.objects.filter(name=name).first()
            if row is None:
                known = ", ".join(NotificationChannel.objects.values_list("name", flat=True))
                raise CommandError(f"No channel named {name!r}. Channels: {known or 'none'}.")
            return [row]
        rows = list(NotificationChannel.objects.filter(enabled=True).order_by("name"))
        if not rows:
            raise CommandError(
                "No enabled notification channel. Set ALERT_TO_EMAIL, SLACK_WEBHOOK_URL, "
                "PAGERDUTY_ROUTING_KEY, ... and run bootstrap, or add one in the admin."
            )
        return rows
