"""``manage.py metrics_catalogue``: print the catalogue table of docs/metrics.md."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from metrics_app.docs import render_catalogue


class Command(BaseCommand):
    help = "Print the metric catalogue as the Markdown table kept in docs/metrics.md."

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(render_catalogue(), ending="")
