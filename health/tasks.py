"""Thin django-q2 entry points of health."""

from __future__ import annotations

from health.outcomes import Outcome
from health.services import run_round


def health_round() -> str:
    """The scheduled round: probe everything, record it, hand state changes on."""
    report = run_round()
    down = sum(1 for result in report.results.values() if result.outcome == Outcome.DOWN)
    return (
        f"{len(report.results)} services in {report.duration_ms:.0f} ms, "
        f"{down} failing, {len(report.changes)} state changes"
    )
