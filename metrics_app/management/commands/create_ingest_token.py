"""``manage.py create_ingest_token <service>``: create a token and print it once."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from metrics_app.services import create_ingest_token


class Command(BaseCommand):
    help = "Create an ingest token for a platform service and print it (shown only this once)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("service", help="The service the token pushes for, e.g. payment.")
        parser.add_argument("--name", default="", help="A name to recognise the token by.")
        parser.add_argument(
            "--multi-service",
            action="store_true",
            help="Allow samples labelled with other services (e.g. for a gateway).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        service = options["service"].strip()
        if not service or len(service) > 100:
            raise CommandError("service: give a name of 1 to 100 characters")
        token, raw = create_ingest_token(
            service=service, name=options["name"].strip(), multi_service=options["multi_service"]
        )
        self.stderr.write(
            f"Created ingest token {token.prefix}… for {service}. It is shown only now:"
        )
        self.stdout.write(raw)
