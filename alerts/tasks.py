"""django-q2 entry points of the alert engine (thin: they call the engine)."""

from __future__ import annotations

from alerts.engine.cycle import run_cycle


def evaluate_rules() -> str:
    """One evaluation cycle (the ``alerts.evaluate`` schedule)."""
    cycle = run_cycle()
    if cycle.skipped:
        return "skipped: the previous cycle still runs"
    return f"{cycle.rules} rules, {cycle.errors} errors, {cycle.changes} changes"
