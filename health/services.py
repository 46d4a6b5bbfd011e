"""Writes of the health app: run a round, record it, move states, roll up uptime."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Count, Q, Sum
from django.db.models.functions import TruncHour
from django.utils import timezone
from psycopg.conninfo import make_conninfo

from health import hooks
from health.models import (
    ROUND_FIELDS,
    CheckResult,
    Service,
    State,
    StateChange,
    UptimeHour,
    hour_of,
)
from health.outcomes import ANSWERED, Outcome
from health.probes import ProbeResult, ProbeTarget
from health.rounds import run_probes
from monitoring_site.models import JobRun

logger = logging.getLogger(__name__)

MONITOR_SERVICES: tuple[dict[str, Any], ...] = (
    {
        "slug": "monitor-database",
        "name": "Monitor database",
        "target": "database",
        "critical": True,
    },
    {"slug": "monitor-redis", "name": "Monitor Redis", "target": "redis", "critical": False},
    {"slug": "monitor-workers", "name": "Monitor workers", "target": "workers", "critical": False},
)


@dataclass
class RoundReport:
    """What one round did: when, how long, each result and the state changes it caused."""

    checked_at: datetime
    duration_ms: float
    deadline: float
    results: dict[int, ProbeResult]
    changes: list[StateChange] = field(default_factory=list)


def run_round(*, deadline: float | None = None) -> RoundReport:
    """Probe every enabled service at once under the round deadline, then record the round."""
    deadline = deadline if deadline is not None else settings.HEALTH_ROUND_DEADLINE
    ensure_monitor_services()
    checked_at = timezone.now()
    targets = build_targets(Service.objects.filter(enabled=True))
    clock = time.perf_counter()
    results = run_probes(targets, deadline=deadline, max_body_bytes=settings.HEALTH_MAX_BODY_BYTES)
    duration_ms = round((time.perf_counter() - clock) * 1000, 2)
    changes = record_round(results=results, checked_at=checked_at)
    logger.info(
        "health round done",
        extra={"services": len(results), "duration_ms": duration_ms, "changes": len(changes)},
    )
    return RoundReport(checked_at, duration_ms, deadline, results, changes)


def ensure_monitor_services() -> None:
    """The monitor's own dependencies are always registered (Redis only when configured)."""
    for spec in MONITOR_SERVICES:
        if spec["target"] == "redis" and not settings.REDIS_URL:
            continue
        Service.objects.get_or_create(
            slug=spec["slug"],
            defaults={
                **spec,
                "kind": Service.Kind.MONITOR,
                "health_path": "",
                "failure_threshold": 1,
                "success_threshold": 1,
                "tags": ["monitor"],
            },
        )


def build_targets(services: Any) -> list[ProbeTarget]:
    targets = []
    for service in services:
        if service.kind == Service.Kind.MONITOR and service.target == "redis":
            if not settings.REDIS_URL:
                continue
        targets.append(
            ProbeTarget(
                service_id=service.pk,
                slug=service.slug,
                kind=service.kind,
                target=service.target,
                health_path=service.health_path,
                timeout=service.timeout,
                expected_status=service.expected_status,
                context=_monitor_context(service) if service.is_monitor_dependency else {},
            )
        )
    return targets


def _monitor_context(service: Service) -> dict[str, Any]:
    if service.target == "redis":
        return {"redis": settings.REDIS_URL}
    if service.target == "workers":
        return {"result": check_workers()}
    if connection.vendor == "postgresql":
        return {"postgres": _own_conninfo()}
    return {"result": check_own_database()}


def _own_conninfo() -> str:
    db = connection.settings_dict
    parts: dict[str, Any] = {
        "host": db.get("HOST"),
        "port": db.get("PORT"),
        "user": db.get("USER"),
        "password": db.get("PASSWORD"),
        "dbname": db.get("NAME"),
    }
    # libpq parameters from OPTIONS (sslmode, sslrootcert, ...); Django's own keys stay out.
    for key, value in (db.get("OPTIONS") or {}).items():
        if key in _LIBPQ_OPTIONS and isinstance(value, str | int):
            parts[key] = value
    return make_conninfo(**{key: str(value) for key, value in parts.items() if value})


_LIBPQ_OPTIONS = frozenset(
    {
        "sslmode",
        "sslrootcert",
        "sslcert",
        "sslkey",
        "sslpassword",
        "sslcrl",
        "target_session_attrs",
        "options",
        "application_name",
        "service",
        "passfile",
        "gssencmode",
        "channel_binding",
    }
)


def check_own_database() -> ProbeResult:
    """The monitor's database (SQLite: a local file, checked before the async part)."""
    started = time.perf_counter()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:
        return ProbeResult.down(f"SELECT 1 failed: {type(exc).__name__}: {exc}")
    return ProbeResult(Outcome.UP, latency_ms=round((time.perf_counter() - started) * 1000, 2))


def check_workers(*, now: datetime | None = None) -> ProbeResult:
    """The worker cluster is down when no job run started within the stale window."""

    now = now or timezone.now()
    window = settings.HEALTH_WORKER_STALE_SECONDS
    last = JobRun.objects.order_by("-started_at").values_list("started_at", flat=True).first()
    if last is None:
        return ProbeResult.down("no job run has been recorded yet")
    age = (now - last).total_seconds()
    details = {"last_job_at": last.isoformat(), "age_s": round(age, 1)}
    if age > window:
        return ProbeResult.down(
            f"no job run started in the last {window // 60} minutes (last {int(age)} s ago)",
            details=details,
        )
    return ProbeResult(Outcome.UP, details=details)


@transaction.atomic
def record_round(*, results: dict[int, ProbeResult], checked_at: datetime) -> list[StateChange]:
    """Store the results, move states by the thresholds, mark impacts, hand changes on."""
    services = {s.pk: s for s in Service.objects.select_for_update().filter(pk__in=results)}
    CheckResult.objects.bulk_create(
        CheckResult(
            service_id=pk,
            checked_at=checked_at,
            outcome=result.outcome,
            status_code=result.status_code,
            latency_ms=result.latency_ms,
            error=result.error,
            details=result.details,
        )
        for pk, result in results.items()
        if pk in services
    )
    moved: list[tuple[Service, str, str]] = []
    for pk, service in services.items():
        result = results[pk]
        transition = service.next_state(result.outcome, result.error)
        if transition.changed:
            moved.append((service, service.state, transition.cause))
            service.state, service.state_since = transition.state, checked_at
        service.consecutive_failures = transition.consecutive_failures
        service.consecutive_successes = transition.consecutive_successes
        service.last_checked_at = checked_at
        service.last_outcome = result.outcome
        service.last_latency_ms = result.latency_ms
        service.last_status_code = result.status_code
        service.last_error = result.error
    _mark_impacted(services)
    Service.objects.bulk_update(services.values(), list(ROUND_FIELDS))
    changes = StateChange.objects.bulk_create(
        StateChange(
            service=service,
            from_state=from_state,
            to_state=service.state,
            at=checked_at,
            cause=cause,
            impacted_by=list(service.impacted_by),
        )
        for service, from_state, cause in moved
    )
    rollup_hours(start=hour_of(checked_at))
    transaction.on_commit(partial(hooks.round_completed, hooks.CompletedRound(checked_at, changes)))
    return changes


OBSERVED_PREFIX = "seen by the web tier: "


def record_redis_observation(down: bool, error: str) -> None:
    """A web process met the monitor's Redis down (or back): record it as a check result.

    No health round runs while Redis is down (the rounds are queued through it), so without this
    ``/health/detailed`` would show Redis up for the whole outage. The result goes through
    :func:`record_round` like a probe's; the monitor's Redis service changes state on one result,
    so it shows down at once and the next round (or the web tier) brings it back.
    """
    if not settings.REDIS_URL:
        return
    ensure_monitor_services()
    service = Service.objects.filter(kind=Service.Kind.MONITOR, target="redis").first()
    if service is None or not service.enabled:
        return
    if down:
        result = ProbeResult.down(OBSERVED_PREFIX + error)
    elif service.state == State.DOWN and service.last_error.startswith(OBSERVED_PREFIX):
        result = ProbeResult(Outcome.UP, details={"seen_by": "web tier"})
    else:
        return  # back, but it was never marked down from here: the rounds say the rest
    record_round(results={service.pk: result}, checked_at=timezone.now())


def _mark_impacted(updated: dict[int, Service]) -> None:
    """A down service whose direct dependency is down too is impacted by that dependency."""
    states = dict(Service.objects.values_list("pk", "state"))
    slugs = dict(Service.objects.values_list("pk", "slug"))
    states.update({pk: service.state for pk, service in updated.items()})
    edges: dict[int, list[int]] = {}
    through = Service.depends_on.through.objects.filter(from_service_id__in=updated)
    for source, dependency in through.values_list("from_service_id", "to_service_id"):
        edges.setdefault(source, []).append(dependency)
    for pk, service in updated.items():
        if service.state != State.DOWN:
            service.impacted_by = []
            continue
        down = [slugs[dep] for dep in edges.get(pk, []) if states.get(dep) == State.DOWN]
        service.impacted_by = sorted(down)


def rollup_hours(*, start: datetime, end: datetime | None = None) -> int:
    """Recompute the hourly uptime rows of [start, end) from the raw results (idempotent)."""
    results = CheckResult.objects.filter(checked_at__gte=start)
    if end is not None:
        results = results.filter(checked_at__lt=end)
    rows = (
        results.annotate(bucket=TruncHour("checked_at", tzinfo=UTC))
        .values("service_id", "bucket")
        .annotate(
            checks=Count("id"),
            up=Count("id", filter=Q(outcome=Outcome.UP)),
            degraded=Count("id", filter=Q(outcome=Outcome.DEGRADED)),
            down=Count("id", filter=Q(outcome=Outcome.DOWN)),
            latency_sum=Sum("latency_ms", filter=Q(outcome__in=ANSWERED)),
            latency_count=Count("latency_ms", filter=Q(outcome__in=ANSWERED)),
        )
        .order_by()
    )
    hours = [
        UptimeHour(
            service_id=row["service_id"],
            hour=row["bucket"],
            checks=row["checks"],
            up=row["up"],
            degraded=row["degraded"],
            down=row["down"],
            latency_sum_ms=row["latency_sum"] or 0.0,
            latency_count=row["latency_count"],
        )
        for row in rows
    ]
    UptimeHour.objects.bulk_create(
        hours,
        update_conflicts=True,
        unique_fields=["service", "hour"],
        update_fields=["checks", "up", "degraded", "down", "latency_sum_ms", "latency_count"],
    )
    return len(hours)


def rollup_recent(*, now: datetime | None = None) -> int:
    """Refresh the last two hours (a round near the top of the hour may have missed one)."""
    now = now or timezone.now()
    return rollup_hours(start=hour_of(now) - timedelta(hours=1))


# --- the registry: the API and the admin write services through these --------------------------


@transaction.atomic
def save_service(
    *, service: Service, user: Any = None, dependencies: Iterable[Service] | None = None
) -> Service:
    """Store a validated service (new or edited) and, when given, what it depends on."""
    service._history_user = user if user is not None and user.pk else None  # type: ignore[attr-defined]
    service.save()
    if dependencies is not None:
        service.depends_on.set(dependencies)
    logger.info("service saved", extra={"service": service.slug, "enabled": service.enabled})
    return service


def create_service(*, fields: Mapping[str, Any], user: Any = None) -> Service:
    """A new service from validated fields (``depends_on`` may be among them)."""
    values = dict(fields)
    dependencies = values.pop("depends_on", None)
    return save_service(service=Service(**values), user=user, dependencies=dependencies)


def update_service(*, service: Service, changes: Mapping[str, Any], user: Any = None) -> Service:
    """Apply validated changes to ``service``."""
    values = dict(changes)
    dependencies = values.pop("depends_on", None)
    for name, value in values.items():
        setattr(service, name, value)
    return save_service(service=service, user=user, dependencies=dependencies)


def set_service_enabled(*, service: Service, enabled: bool, user: Any = None) -> bool:
    """Enable or disable a service (a disabled one is not probed); False when it already was."""
    if service.enabled == enabled:
        return False
    update_service(service=service, changes={"enabled": enabled}, user=user)
    return True


@transaction.atomic
def delete_service(*, service: Service, user: Any = None) -> None:
    """Delete a service with its results, state changes and uptime."""
    service._history_user = user if user is not None and user.pk else None  # type: ignore[attr-defined]
    slug = service.slug
    service.delete()
    logger.info("service deleted", extra={"service": slug})


STATUS_LOG_KEY = "health:last-logged-status"
_STATUS_LEVELS = {"healthy": logging.INFO, "degraded": logging.WARNING}
_last_logged: dict[str, str] = {}  # when the cache is unreachable: this process's memory


def note_overall_status(*, status: str, problems: list[str]) -> None:
    """Log the overall status when it (or what is wrong) changed since the last line logged.

    ``/health`` is polled every few seconds by load balancers; an outage is one line when it
    starts and one when it ends, not one per poll. The last line is kept in the shared cache, so
    all workers of all hosts (with Redis) agree.
    """
    signature = f"{status}|{'; '.join(problems)}"
    previous = _remember(signature)
    if previous == signature:
        return
    before = previous.split("|", 1)[0] if previous else ""
    detail = f" ({'; '.join(problems)})" if problems else ""
    change = f"{before} -> {status}" if before else status
    logger.log(_STATUS_LEVELS.get(status, logging.ERROR), "health: status %s%s", change, detail)


def _remember(signature: str) -> str | None:
    """Store ``signature`` as the last one logged; return the one stored before it."""
    try:
        previous = cache.get(STATUS_LOG_KEY)
        if previous != signature:
            cache.set(STATUS_LOG_KEY, signature, timeout=None)
        return previous
    except Exception:  # the cache (Redis) is down: fall back to this process's memory
        previous = _last_logged.get(STATUS_LOG_KEY)
        _last_logged[STATUS_LOG_KEY] = signature
        return previous
