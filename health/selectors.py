"""Reads of the health app: overall status, uptime, latency percentiles, impacts, payloads.

Everything here reads stored rows; nothing probes.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Max, Sum
from django.utils import timezone

from health import hooks
from health.models import CheckResult, Service, State, StateChange, UptimeHour, hour_of
from health.outcomes import ANSWERED
from monitoring_site.models import JobRun

HEALTHY, DEGRADED, UNHEALTHY = "healthy", "degraded", "unhealthy"
STALE_INTERVALS = 3
UPTIME_WINDOWS = {"24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30)}


@dataclass(frozen=True)
class Overall:
    status: str
    stale: bool
    checked_at: datetime | None


def impacted_services(service: Service) -> list[Service]:
    """Services that are down because ``service`` (one of their dependencies) is down."""
    candidates = Service.objects.filter(state=State.DOWN, enabled=True).exclude(pk=service.pk)
    return [other for other in candidates if service.slug in (other.impacted_by or [])]


@dataclass(frozen=True)
class Outage:
    """A down service, what it is down because of, and who is down because of it.

    ``causes``: the down services at the root of its outage (down themselves with no down
    dependency), reached through its down dependencies; empty when it is such a root.
    ``impacted``: the services down because of it, directly or through other down services.
    """

    service: Service
    causes: tuple[str, ...]
    impacted: tuple[str, ...]

    @property
    def is_root(self) -> bool:
        return not self.causes


def current_outages() -> dict[str, Outage]:
    """Every enabled down service, by slug, with its root causes and impacts, as stored now."""
    down = {s.pk: s for s in Service.objects.filter(state=State.DOWN, enabled=True)}
    edges: dict[int, list[int]] = defaultdict(list)
    through = Service.depends_on.through.objects.filter(
        from_service_id__in=down, to_service_id__in=down
    )
    for source, dependency in through.values_list("from_service_id", "to_service_id"):
        edges[source].append(dependency)
    roots = {pk: _roots_of(pk, edges) for pk in down}
    impacted: dict[int, set[int]] = defaultdict(set)
    for pk in down:
        for reached in _reachable(pk, edges):
            impacted[reached].add(pk)
    return {
        service.slug: Outage(
            service=service,
            causes=tuple(sorted(down[root].slug for root in roots[pk] if root != pk)),
            impacted=tuple(sorted(down[other].slug for other in impacted[pk])),
        )
        for pk, service in down.items()
    }


def _reachable(start: int, edges: dict[int, list[int]]) -> set[int]:
    """Services ``start`` depends on through down services (not itself unless in a cycle)."""
    seen: set[int] = set()
    stack = list(edges.get(start, []))
    while stack:
        node = stack.pop()
        if node not in seen:
            seen.add(node)
            stack.extend(edges.get(node, []))
    seen.discard(start)
    return seen


def _roots_of(start: int, edges: dict[int, list[int]]) -> set[int]:
    """The down services without a down dependency that ``start`` reaches; itself if none.

    A dependency cycle cannot be saved, but a stored graph may predate the check: its members,
    reaching no root, are each their own root, so they alert rather than hide each other.
    """
    found = {node for node in _reachable(start, edges) | {start} if not edges.get(node)}
    return found or {start}


def last_round_at(services: Iterable[Service] | None = None) -> datetime | None:
    if services is not None:
        times = [s.last_checked_at for s in services if s.last_checked_at]
        return max(times, default=None)
    return Service.objects.aggregate(at=Max("last_checked_at"))["at"]


def is_stale(checked_at: datetime | None, *, now: datetime) -> bool:
    interval = timedelta(minutes=settings.HEALTH_CHECK_INTERVAL_MINUTES)
    return checked_at is None or now - checked_at > STALE_INTERVALS * interval


def overall_status(services: Iterable[Service], *, now: datetime | None = None) -> Overall:
    """healthy: all up; degraded: a non-critical down or anything degraded or unknown;
    unhealthy: a critical service (or the monitor's database) down. Stale is at best degraded."""
    now = now or timezone.now()
    enabled = [s for s in services if s.enabled]
    checked_at = last_round_at(enabled)
    stale = is_stale(checked_at, now=now)
    status = HEALTHY
    for service in enabled:
        if service.state == State.DOWN and service.critical:
            status = UNHEALTHY
            break
        if service.state != State.UP:
            status = DEGRADED
    if stale and status == HEALTHY:
        status = DEGRADED
    return Overall(status=status, stale=stale, checked_at=checked_at)


def iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def monitor_dependencies(services: Iterable[Service]) -> dict[str, dict[str, Any]]:
    """database, redis and workers as the last round saw them."""
    by_target = {s.target: s for s in services if s.is_monitor_dependency}
    found: dict[str, dict[str, Any]] = {}
    for name in ("database", "redis", "workers"):
        service = by_target.get(name)
        if name == "redis" and not settings.REDIS_URL:
            found[name] = {"status": "not_configured"}
        elif name == "workers":
            found[name] = _workers_now(service)
        elif service is None or not service.enabled:
            found[name] = {"status": State.UNKNOWN.value}
        else:
            found[name] = {
                "status": service.state,
                "latency_ms": service.last_latency_ms,
                "last_checked": iso(service.last_checked_at),
                "since": iso(service.state_since),
                "error": service.last_error,
            }
    return found


def _workers_now(service: Service | None) -> dict[str, Any]:
    """The worker cluster from the job-run rows, as of now (a stored-row read, not a probe)."""

    last = JobRun.objects.order_by("-started_at").values_list("started_at", flat=True).first()
    window = timedelta(seconds=settings.HEALTH_WORKER_STALE_SECONDS)
    alive = last is not None and timezone.now() - last <= window
    return {
        "status": State.UP.value if alive else State.DOWN.value,
        "last_job_at": iso(last),
        "last_checked": iso(service.last_checked_at) if service else None,
        "since": iso(service.state_since) if service else None,
    }


def in_maintenance(now: datetime) -> dict[str, dict[str, Any]]:
    """Per service slug, the maintenance window in force at ``now`` (the one ending last), as
    ``{"window": name, "until": iso}``: a fact the alerts app provides through ``hooks``."""
    found: dict[str, dict[str, Any]] = {}
    for window in sorted(hooks.facts(hooks.MAINTENANCE_WINDOWS, now), key=lambda w: w["ends_at"]):
        for slug in window["services"]:
            found[slug] = {"window": window["name"], "until": iso(window["ends_at"])}
    return found


def _service_entry(service: Service, maintenance: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return {
        "name": service.slug,
        "status": service.state,
        "latency_ms": service.last_latency_ms,
        "last_checked": iso(service.last_checked_at),
        "critical": service.critical,
        "since": iso(service.state_since),
        "impacted_by": list(service.impacted_by or []),
        "maintenance": maintenance.get(service.slug),
    }


def health_payload(*, uptime: float, now: datetime | None = None) -> dict[str, Any]:
    """The body of ``GET /health``, from the stored state only."""
    now = now or timezone.now()
    services = list(Service.objects.filter(enabled=True).order_by("name"))
    overall = overall_status(services, now=now)
    dependencies = monitor_dependencies(services)
    maintenance = in_maintenance(now)
    return {
        "status": UNHEALTHY if _workers_dead(services, dependencies) else overall.status,
        "uptime": uptime,
        "checked_at": iso(overall.checked_at),
        "stale": overall.stale,
        "services": [
            _service_entry(s, maintenance) for s in services if not s.is_monitor_dependency
        ],
        "dependencies": dependencies,
    }


def _workers_dead(services: list[Service], dependencies: dict[str, dict[str, Any]]) -> bool:
    """The worker cluster is registered (and enabled) and no job run started lately.

    Dead workers run no health round, so the stored states would stay as they were: the
    cluster's own state is read from the job-run rows at each request instead. Nothing then
    evaluates rules or delivers alerts, so the monitor itself is unhealthy (503).
    """
    watched = any(s.is_monitor_dependency and s.target == "workers" for s in services)
    return watched and dependencies["workers"]["status"] == State.DOWN.value


def health_problems(body: dict[str, Any]) -> list[str]:
    """What makes a ``/health`` body less than healthy, in words (for the status log)."""
    down = [s["name"] for s in body["services"] if s["status"] == State.DOWN]
    down += [
        f"monitor {name}"
        for name, dependency in body["dependencies"].items()
        if dependency.get("status") == State.DOWN
    ]
    problems = [f"down: {', '.join(sorted(down))}"] if down else []
    degraded = [s["name"] for s in body["services"] if s["status"] == State.DEGRADED]
    if degraded:
        problems.append(f"degraded: {', '.join(sorted(degraded))}")
    if body.get("stale"):
        problems.append(f"no health round since {body.get('checked_at') or 'startup'}")
    return problems


def uptime(service_ids: Iterable[int], *, since: datetime) -> dict[int, float | None]:
    """Share of checks that found the service up or degraded, per service, since ``since``."""
    rows = (
        UptimeHour.objects.filter(service_id__in=list(service_ids), hour__gte=hour_of(since))
        .values("service_id")
        .annotate(checks=Sum("checks"), up=Sum("up"), degraded=Sum("degraded"))
        .order_by()
    )
    found: dict[int, float | None] = {pk: None for pk in service_ids}
    for row in rows:
        if row["checks"]:
            found[row["service_id"]] = round((row["up"] + row["degraded"]) / row["checks"], 6)
    return found


def uptime_between(
    service_ids: Iterable[int], *, start: datetime, end: datetime
) -> dict[int, tuple[int, int]]:
    """(checks, available) per service over the UTC hours starting in ``[start, end)``.

    From the hourly rollups, kept a year; a service without a check is absent.
    """
    rows = (
        UptimeHour.objects.filter(
            service_id__in=list(service_ids), hour__gte=hour_of(start), hour__lt=end
        )
        .values("service_id")
        .annotate(checks=Sum("checks"), up=Sum("up"), degraded=Sum("degraded"))
        .order_by()
    )
    return {
        row["service_id"]: (row["checks"], row["up"] + row["degraded"])
        for row in rows
        if row["checks"]
    }


def down_intervals(
    service_ids: Iterable[int], *, start: datetime, end: datetime
) -> dict[int, list[tuple[datetime, datetime | None, str]]]:
    """Per service, the times it was down within ``[start, end)``: (from, to or None, cause).

    Read from the state changes: the state at ``start`` is the last change before it; ``to`` is
    None when the outage was still going at ``end``.
    """
    ids = list(service_ids)
    state_at_start = _states_at(ids, start)
    found: dict[int, list[tuple[datetime, datetime | None, str]]] = defaultdict(list)
    opened: dict[int, tuple[datetime, str]] = {
        pk: (start, cause) for pk, (state, cause) in state_at_start.items() if state == State.DOWN
    }
    changes = StateChange.objects.filter(service_id__in=ids, at__gte=start, at__lt=end)
    for change in changes.order_by("at", "id"):
        pk = change.service_id
        if change.to_state == State.DOWN and pk not in opened:
            opened[pk] = (change.at, change.cause)
        elif change.to_state != State.DOWN and pk in opened:
            began, cause = opened.pop(pk)
            found[pk].append((began, change.at, cause))
    for pk, (began, cause) in opened.items():
        found[pk].append((began, None, cause))
    return dict(found)


def _states_at(ids: list[int], moment: datetime) -> dict[int, tuple[str, str]]:
    """(state, cause of that state) of each service at ``moment``, from its last change before."""
    found: dict[int, tuple[str, str]] = {}
    rows = StateChange.objects.filter(service_id__in=ids, at__lt=moment).order_by("-at", "-id")
    for pk, state, cause in rows.values_list("service_id", "to_state", "cause").iterator():
        found.setdefault(pk, (state, cause))
        if len(found) == len(ids):
            break
    return found


def percentile(values: list[float], fraction: float) -> float | None:
    """Nearest-rank percentile (no interpolation): p95 of 20 values is the 19th smallest."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(round(fraction * len(ordered), 9)))
    return ordered[min(rank, len(ordered)) - 1]


def latency_percentiles(
    service_ids: Iterable[int], *, since: datetime
) -> dict[int, dict[str, float | None]]:
    latencies: dict[int, list[float]] = defaultdict(list)
    rows = CheckResult.objects.filter(
        service_id__in=list(service_ids),
        checked_at__gte=since,
        latency_ms__isnull=False,
        outcome__in=ANSWERED,
    ).values_list("service_id", "latency_ms")
    for pk, latency in rows:
        if latency is not None:  # the filter excludes it; the column type allows it
            latencies[pk].append(latency)
    return {
        pk: {"p50": percentile(latencies[pk], 0.5), "p95": percentile(latencies[pk], 0.95)}
        for pk in service_ids
    }


def heartbeat(service_ids: list[int], *, now: datetime, hours: int = 24) -> dict[int, list[dict]]:
    """The last ``hours`` hours per service, oldest first: checks, availability, worst outcome."""
    first = hour_of(now) - timedelta(hours=hours - 1)
    rows = UptimeHour.objects.filter(service_id__in=service_ids, hour__gte=first)
    by_key = {(row.service_id, row.hour): row for row in rows}
    beats: dict[int, list[dict]] = {}
    for pk in service_ids:
        beats[pk] = []
        for step in range(hours):
            hour = first + timedelta(hours=step)
            row = by_key.get((pk, hour))
            beats[pk].append(_beat(hour, row))
    return beats


def _beat(hour: datetime, row: UptimeHour | None) -> dict[str, Any]:
    if row is None or not row.checks:
        return {"hour": iso(hour), "checks": 0, "uptime": None, "state": "none"}
    state = State.DOWN if row.down else (State.DEGRADED if row.degraded else State.UP)
    return {
        "hour": iso(hour),
        "checks": row.checks,
        "uptime": round(row.available / row.checks, 4),
        "state": state,
    }


def recent_changes(service_ids: list[int], *, per_service: int = 10) -> dict[int, list[dict]]:
    found: dict[int, list[dict]] = {pk: [] for pk in service_ids}
    since = timezone.now() - timedelta(days=30)
    for change in StateChange.objects.filter(service_id__in=service_ids, at__gte=since)[:2000]:
        bucket = found[change.service_id]
        if len(bucket) < per_service:
            bucket.append(
                {
                    "from": change.from_state,
                    "to": change.to_state,
                    "at": iso(change.at),
                    "cause": change.cause,
                    "impacted_by": change.impacted_by,
                }
            )
    return found


def dependency_slugs(service_ids: list[int]) -> dict[int, list[str]]:
    found: dict[int, list[str]] = {pk: [] for pk in service_ids}
    through = Service.depends_on.through.objects.filter(from_service_id__in=service_ids)
    for source, slug in through.values_list("from_service_id", "to_service__slug"):
        found[source].append(slug)
    return {pk: sorted(slugs) for pk, slugs in found.items()}


def would_create_cycle(service_id: int | None, dependency_ids: Iterable[int]) -> list[int] | None:
    """The cycle (as ids) that making ``service_id`` depend on ``dependency_ids`` would close."""
    if service_id is None:
        return None  # a new service has no dependents yet, so it cannot close a cycle
    edges: dict[int, list[int]] = defaultdict(list)
    through = Service.depends_on.through.objects.exclude(from_service_id=service_id)
    for source, target in through.values_list("from_service_id", "to_service_id"):
        edges[source].append(target)
    edges[service_id] = list(dependency_ids)
    path: list[int] = []
    visiting: set[int] = set()
    done: set[int] = set()

    def visit(node: int) -> list[int] | None:
        if node in visiting:
            return [*path[path.index(node) :], node]
        if node in done:
            return None
        visiting.add(node)
        path.append(node)
        for nxt in edges.get(node, []):
            cycle = visit(nxt)
            if cycle:
                return cycle
        visiting.discard(node)
        path.pop()
        done.add(node)
        return None

    return visit(service_id)


def platform_services() -> Any:
    return Service.objects.exclude(kind=Service.Kind.MONITOR)


def _last_result(service: Service) -> dict[str, Any] | None:
    if service.last_checked_at is None:
        return None
    return {
        "checked_at": iso(service.last_checked_at),
        "outcome": service.last_outcome,
        "status_code": service.last_status_code,
        "latency_ms": service.last_latency_ms,
        "error": service.last_error,
    }


def detailed_payload(*, now: datetime | None = None) -> dict[str, Any]:
    """The body of ``GET /api/v1/monitoring/health/detailed``."""
    now = now or timezone.now()
    services = list(Service.objects.order_by("name"))
    ids = [s.pk for s in services]
    uptimes = {name: uptime(ids, since=now - span) for name, span in UPTIME_WINDOWS.items()}
    latencies = latency_percentiles(ids, since=now - timedelta(hours=1))
    dependencies = dependency_slugs(ids)
    changes = recent_changes(ids)
    overall = overall_status(services, now=now)
    return {
        "status": overall.status,
        "stale": overall.stale,
        "checked_at": iso(overall.checked_at),
        "notices": hooks.notices(),
        "dependencies": monitor_dependencies(services),
        "services": [
            {
                "id": s.pk,
                "slug": s.slug,
                "name": s.name,
                "kind": s.kind,
                "enabled": s.enabled,
                "critical": s.critical,
                "state": s.state,
                "since": iso(s.state_since),
                "consecutive_failures": s.consecutive_failures,
                "consecutive_successes": s.consecutive_successes,
                "last_result": _last_result(s),
                "latency_ms": latencies[s.pk],
                "uptime": {name: uptimes[name][s.pk] for name in UPTIME_WINDOWS},
                "depends_on": dependencies[s.pk],
                "impacted_by": list(s.impacted_by or []),
                "recent_changes": changes[s.pk],
            }
            for s in services
        ],
    }


def state_counts(services: Iterable[Service]) -> dict[str, int]:
    """How many services are in each state; ``unknown`` ones are never counted as up."""
    counts = {state.value: 0 for state in (State.UP, State.DEGRADED, State.DOWN, State.UNKNOWN)}
    for service in services:
        counts[service.state] = counts.get(service.state, 0) + 1
    return counts


def is_checking(overall: Overall, counts: dict[str, int]) -> bool:
    """The monitor is still finding out: no round yet, or all it lacks is settled states.

    A new service stays ``unknown`` until its failure or success threshold is reached (two or
    three rounds); until then "degraded" would be a false alarm and "up" a false comfort.
    """
    if overall.checked_at is None:
        return True
    unsettled = counts[State.UNKNOWN] > 0 and not counts[State.DOWN] + counts[State.DEGRADED]
    return unsettled and not overall.stale


PANEL_STATES = ("firing", "acknowledged")


def wall_alerts(now: datetime) -> list[dict[str, Any]]:
    """The firing and acknowledged alerts the alerts app reports (``hooks.OPEN_ALERTS``)."""
    return [
        {**alert, "since": iso(alert["since"])}
        for alert in hooks.facts(hooks.OPEN_ALERTS, now)
        if alert.get("state") in PANEL_STATES
    ]


def dashboard_payload(*, now: datetime | None = None) -> dict[str, Any]:
    """What the dashboard draws: banner, one tile per service, heartbeat bars, dependencies."""
    now = now or timezone.now()
    everything = list(Service.objects.filter(enabled=True).order_by("name"))
    services = [s for s in everything if not s.is_monitor_dependency]
    ids = [s.pk for s in services]
    beats = heartbeat(ids, now=now)
    uptimes = uptime(ids, since=now - UPTIME_WINDOWS["24h"])
    dependencies = dependency_slugs(ids)
    overall = overall_status(everything, now=now)
    counts = state_counts(services)
    maintenance = in_maintenance(now)
    return {
        "status": overall.status,
        "checking": is_checking(overall, state_counts(everything)),
        "counts": counts,
        "stale": overall.stale,
        "checked_at": iso(overall.checked_at),
        "now": iso(now),
        "interval_minutes": settings.HEALTH_CHECK_INTERVAL_MINUTES,
        "notices": hooks.notices(),
        "alerts": wall_alerts(now),
        # Anomaly detectors, from the alerts app through the hand-off (health never imports it).
        "anomalies": [
            {**row, "since": iso(row.get("since"))} for row in hooks.facts(hooks.ANOMALIES, now)
        ],
        "dependencies": monitor_dependencies(everything),
        "services": [
            {
                "id": s.pk,
                "slug": s.slug,
                "name": s.name,
                "state": s.state,
                "critical": s.critical,
                "since": iso(s.state_since),
                "latency_ms": s.last_latency_ms,
                "last_checked": iso(s.last_checked_at),
                "error": s.last_error,
                "impacted_by": list(s.impacted_by or []),
                "depends_on": dependencies[s.pk],
                "uptime_24h": uptimes[s.pk],
                "heartbeat": beats[s.pk],
                "maintenance": maintenance.get(s.slug),
            }
            for s in services
        ],
    }


def latency_series(service: Service, *, since: datetime, limit: int = 2000) -> list[dict]:
    rows = (
        CheckResult.objects.filter(service=service, checked_at__gte=since)
        .order_by("-checked_at")
        .values_list("checked_at", "latency_ms", "outcome")[:limit]
    )
    return [{"at": iso(at), "latency_ms": ms, "outcome": outcome} for at, ms, outcome in rows][::-1]
