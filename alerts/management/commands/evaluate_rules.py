"""``manage.py evaluate_rules``: run one evaluation cycle now and print what it did."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from alerts.engine.cycle import run_cycle
from alerts.models import EvaluationCycle, Rule


class Command(BaseCommand):
    help = "Evaluate every enabled rule now (one cycle at the current interval boundary)."

    def handle(self, *args: Any, **options: Any) -> None:
        cycle = run_cycle(reason=EvaluationCycle.Reason.MANUAL)
        if cycle.skipped:
            self.stdout.write("skipped: another evaluation cycle holds the lease")
            return
        self.stdout.write(
            f"{cycle.rules} rules in {cycle.duration_ms:.0f} ms: "
            f"{cycle.changes} alert changes, {cycle.errors} errors"
        )
        for rule in Rule.objects.filter(enabled=True, builtin=False).exclude(last_error=""):
            self.stdout.write(f"  {rule.slug}: {rule.last_error}")
