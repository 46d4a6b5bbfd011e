"""django-q2 entry points of the alert engine (thin: they call the engine)."""

from __future__ import annotations

from alerts.engine.cycle import run_cycle
from alerts.intake import services as intake


class EvaluationFailed(RuntimeError):
    """The cycle as a whole failed (its error is stored on the EvaluationCycle row)."""


def evaluate_rules() -> str:
    """One evaluation cycle (the ``alerts.evaluate`` schedule)."""
    cycle = run_cycle()
    if cycle.error:  # the job fails too: no dead-man's ping, and the job-failing self-alert
        raise EvaluationFailed(cycle.error)
    if cycle.skipped:
        return "skipped: the previous cycle still runs"
    return f"{cycle.rules} rules, {cycle.errors} errors, {cycle.changes} changes"


def expire_external_alerts() -> str:
    """Resolve external alerts whose endsAt passed without a repeat (alerts.intake)."""
    return f"{intake.expire_external_alerts()} external alerts expired"
