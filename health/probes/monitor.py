"""The monitor's own dependencies: its database, its Redis and its worker cluster.

Their targets are names, not addresses; the round fills ``context`` from the settings (a DSN
never lands in a row) or with a result it computed before going async (SQLite, workers).
"""

from __future__ import annotations

from health.probes.base import Probe, ProbeResult, ProbeSession, ProbeTarget, register
from health.probes.datastores import check_postgres, check_redis

MONITOR_TARGETS = ("database", "redis", "workers")


@register
class MonitorProbe(Probe):
    """One of the monitor's own dependencies (``database``, ``redis`` or ``workers``)."""

    kind = "monitor"
    target_help = "database, redis or workers"

    @classmethod
    def validate_target(cls, target: str) -> str:
        if target not in MONITOR_TARGETS:
            raise ValueError(f"expected one of {', '.join(MONITOR_TARGETS)}")
        return target

    async def check(self, target: ProbeTarget, session: ProbeSession) -> ProbeResult:
        context = target.context
        if "result" in context:
            return context["result"]
        if "postgres" in context:
            return await check_postgres(context["postgres"], target.timeout, guarded=False)
        if "redis" in context:
            return await check_redis(context["redis"], target.timeout, guarded=False)
        return ProbeResult.down(f"{target.target}: not configured")
