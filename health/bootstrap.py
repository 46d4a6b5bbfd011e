"""Seed the platform's 21 services, its datastores and the monitor's own dependencies.

Rows are created when missing, with the default URL, ``critical`` flag and dependencies. An
existing row keeps every admin edit. A changed URL variable is applied to an existing row only
while its target is still the value bootstrap seeded last time (read from the edit history);
once an admin has edited the target, bootstrap leaves it alone and says so.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.db import transaction

from health.models import Service
from health.platform import PLATFORM_DATASTORES, PLATFORM_SERVICES
from health.probes import PROBES
from health.services import ensure_monitor_services

Log = Callable[[str], None]
REASON = "bootstrap"


@transaction.atomic
def seed(log: Log) -> None:
    ensure_monitor_services()
    created: list[str] = []
    for spec in PLATFORM_SERVICES:
        url = settings.PLATFORM_SERVICE_URLS.get(spec.variable) or spec.default_url
        if _seed_one(spec.slug, spec.name, "http", url, spec.variable, log, critical=spec.critical):
            created.append(spec.slug)
    for store in PLATFORM_DATASTORES:
        url = getattr(settings, store.setting, "")
        if url and _seed_one(store.slug, store.name, store.kind, url, store.setting, log):
            created.append(store.slug)
    _link_dependencies(set(created))
    log(f"health: {len(created)} services created, {Service.objects.count()} registered")


def _seed_one(
    slug: str, name: str, kind: str, url: str, variable: str, log: Log, *, critical: bool = False
) -> bool:
    try:
        PROBES[kind].validate_target(url)
    except ValueError as exc:
        log(f"health: {slug} not seeded: {variable}: {exc}")
        return False
    service = Service.objects.filter(slug=slug).first()
    if service is None:
        service = Service(
            slug=slug,
            name=name,
            kind=kind,
            target=url,
            critical=critical,
            health_path="/health" if kind == "http" else "",
        )
        # simple_history (no type stubs) reads this attribute when it writes the history row.
        service._change_reason = f"{REASON}: seeded from {variable}"  # type: ignore[attr-defined]
        service.save()
        return True
    if service.target == url:
        return False
    seeded = (
        service.history.filter(history_change_reason__startswith=REASON)
        .order_by("-history_date")
        .values_list("target", flat=True)
        .first()
    )
    if seeded is not None and service.target == seeded:
        service.target = url
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
