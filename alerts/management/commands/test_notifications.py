"""``manage.py test_notifications``: the former name of ``check_channels`` (deprecated)."""

from __future__ import annotations

from typing import Any

from alerts.management.commands import check_channels


class Command(check_channels.Command):
    help = "Deprecated: use check_channels. " + check_channels.Command.help

    def handle(self, *args: Any, **options: Any) -> None:
        self.stderr.write("test_notifications is deprecated; use manage.py check_channels.")
        super().handle(*args, **options)
