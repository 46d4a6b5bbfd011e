from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from monitoring_site.bootstrap import run


class Command(BaseCommand):
    help = "Seed roles, schedules, services, rules, channels and policies (idempotent)."

    def handle(self, *args: Any, **options: Any) -> None:
        run(lambda line: self.stdout.write(line))
        self.stdout.write(self.style.SUCCESS("bootstrap complete"))
