"""Seed the platform's 21 services, its datastores and the monitor's own dependencies.

Rows are created when missing, with the default URL, ``critical`` flag and dependencies. An
existing row keeps every admin edit. A changed URL variable is applied to an existing row only
while its target (and health path) are still what bootstrap seeded last time (read from the edit
history); once an admin has edited them, bootstrap leaves them alone and says so.

The ``monitoring`` entry is the monitor itself: ``MONITORING_SERVICE_URL`` when set, else
``SITE_URL``, probed at ``/status``.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.db import transaction

from health.models import Service
from health.platform import PLATFORM_DATASTORES, PLATFORM_SERVICES, SELF_SLUG, PlatformService
from health.probes import PROBES
from health.services import ensure_monitor_services

Log = Callable[[str], None]
REASON = "bootstrap"


@transaction.atomic
def seed(log: Log) -> None:
    ensure_monitor_services()
    created: list[str] = []
    for spec in PLATFORM_SERVICES:
        url, variable = _url_of(spec)
        seeded = _seed_one(
            spec.slug,
            spec.name,
            "http",
            url,
            variable,
            log,
            critical=spec.critical,
            health_path=spec.health_path,
        )
        if seeded:
            created.append(spec.slug)
    for store in PLATFORM_DATASTORES:
        url = getattr(settings, store.setting, "")
        if url and _seed_one(store.slug, store.name, store.kind, url, store.setting, log):
            created.append(store.slug)
    _link_dependencies(set(created))
    log(f"health: {len(created)} services created, {Service.objects.count()} registered")


def _url_of(spec: PlatformService) -> tuple[str, str]:
    """The URL to seed and the variable it came from."""
    configured = settings.PLATFORM_SERVICE_URLS.get(spec.variable)
    if configured:
        return configured, spec.variable
    if spec.slug == SELF_SLUG and settings.SITE_URL:
        return settings.SITE_URL, "SITE_URL"
    return spec.default_url, spec.variable


def _seed_one(
    slug: str,
    name: str,
    kind: str,
    url: str,
    variable: str,
    log: Log,
    *,
    critical: bool = False,
    health_path: str = "/health",
) -> bool:
    try:
        PROBES[kind].validate_target(url)
    except ValueError as exc:
        log(f"health: {slug} not seeded: {variable}: {exc}")
        return False
    path = health_path if kind == "http" else ""
    service = Service.objects.filter(slug=slug).first()
    if service is None:
        service = Service(
            slug=slug, name=name, kind=kind, target=url, critical=critical, health_path=path
        )
        # simple_history (no type stubs) reads this attribute when it writes the history row.
        service._change_reason = f"{REASON}: seeded from {variable}"  # type: ignore[attr-defined]
        service.save()
        return True
    if (service.target, service.health_path) == (url, path):
        return False
    seeded = (
        service.history.filter(history_change_reason__startswith=REASON)
        .order_by("-history_date")
        .values_list("target", "health_path")
        .first()
    )
    if seeded is not None and (service.target, service.health_path) == seeded:
        service.target, service.health_path = url, path
        service._change_reason = f"{REASON}: {variable} changed"  # type: ignore[attr-defined]
        service.save()
        log(f"health: {slug} target updated from {variable}")
    else:
        log(f"health: {slug} keeps its edited target; {variable} differs (edit it in the admin)")
    return False


def _link_dependencies(created: set[str]) -> None:
    """Default edges for new rows, and towards new rows (no admin could have removed those)."""
    by_slug = {s.slug: s for s in Service.objects.all()}
    for spec in PLATFORM_SERVICES:
        service = by_slug.get(spec.slug)
        if service is None:
            continue
        wanted = [
            by_slug[dep]
            for dep in spec.depends_on
            if dep in by_slug and (spec.slug in created or dep in created)
        ]
        if wanted:
            service.depends_on.add(*wanted)
