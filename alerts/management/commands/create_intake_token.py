"""``manage.py create_intake_token NAME``: a token for a Prometheus or vmalert to send with."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from alerts.intake.tokens import create_intake_token


class Command(BaseCommand):
    help = (
        "Create an intake token for POST /api/v2/alerts and print it once (only its hash is "
        "stored). NAME says who sends with it, e.g. prometheus-prod."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="Who sends with the token (1 to 100 characters).")

    def handle(self, *args: Any, name: str, **options: Any) -> None:
        name = name.strip()
        if not name or len(name) > 100:
            raise CommandError("name: 1 to 100 characters")
        token, raw = create_intake_token(name=name)
        self.stderr.write(f"Intake token {token.name} ({token.prefix}); it is not shown again:")
        self.stdout.write(raw)
