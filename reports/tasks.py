"""Thin job entry points (run through monitoring_site.jobs.run_job)."""

from __future__ import annotations

from typing import Any

from reports import delivery, services


def daily_reports() -> dict[str, Any]:
    return services.make_due_reports()


def deliver_reports() -> int:
    return delivery.deliver_due()
