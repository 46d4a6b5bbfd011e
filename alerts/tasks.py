"""django-q2 entry points of the alert engine (thin: they call the engine)."""

from __future__ import annotations

from django.utils import timezone

from alerts.engine.cycle import run_cycle
from alerts.engine.evaluator import evaluator_alive
from alerts.intake import services as intake
from alerts.models import EvaluationCycle
from alerts.sources.self_check import evaluator_down, raise_self_alert


class EvaluationFailed(RuntimeError):
    """The cycle as a whole failed (its error is stored on the EvaluationCycle row)."""


def evaluate_rules() -> str:
    """The ``alerts.evaluate`` safety net: a cycle only when the evaluator loop is silent.

    The evaluator (``manage.py run_evaluator``) evaluates every few seconds and beats on each
    turn; when its heartbeat is older than two intervals this job evaluates itself, once a
    minute, and raises the ``evaluator_down`` self-alert.
    """
    now = timezone.now()
    if evaluator_alive(now=now):
        return "the evaluator runs"
    finding = evaluator_down(now=now)
    if finding is not None:
        raise_self_alert(finding, now=now)
    # The job is due on each minute (monitoring_site.jobs): its cycle evaluates at that minute
    # and its lag is how late the scheduler ran it (issue #13), not a phase on the 15 s grid.
    due = now.replace(second=0, microsecond=0)
    cycle = run_cycle(now, due=due, reason=EvaluationCycle.Reason.FALLBACK)
    if cycle.error:  # the job fails too: no dead-man's ping, and the job-failing self-alert
        raise EvaluationFailed(cycle.error)
    if cycle.skipped:
        return "skipped: the previous cycle still runs"
    return f"no evaluator: {cycle.rules} rules, {cycle.errors} errors, {cycle.changes} changes"


def expire_external_alerts() -> str:
    """Resolve external alerts whose endsAt passed without a repeat (alerts.intake)."""
    return f"{intake.expire_external_alerts()} external alerts expired"
