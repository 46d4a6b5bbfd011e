"""The health round job and the retention of results, uptime rollups and state changes."""

from __future__ import annotations

from django.conf import settings

from monitoring_site.jobs import Cleanup, Job

JOBS = [
    Job(
        name="health.round",
        func="health.tasks.health_round",
        minutes=settings.HEALTH_CHECK_INTERVAL_MINUTES,
    ),
]
CLEANUPS = [
    Cleanup(
        name="health check results",
        model="health.CheckResult",
        field="checked_at",
        setting="HEALTH_RESULT_RETENTION_DAYS",
    ),
    Cleanup(
        name="health uptime hours",
        model="health.UptimeHour",
        field="hour",
        setting="HEALTH_UPTIME_RETENTION_DAYS",
    ),
    Cleanup(
        name="health state changes",
        model="health.StateChange",
        field="at",
        setting="HEALTH_STATE_CHANGE_RETENTION_DAYS",
    ),
]
