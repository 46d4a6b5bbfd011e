"""Health alerts: the built-in ``service_down`` rule, decided after every health round.

Health calls :func:`handle_round` once each round has committed, and the alerts follow the
current dependency graph (``health.selectors.current_outages``), not only the state changes:

- a down service with no down dependency (a root) raises a firing ``service_down`` alert when it
  is critical or takes a critical service down with it (a non-critical ``venue`` behind the
  critical ``event``); health already waited out its failure threshold, so ``for`` is zero;
- a service down because a dependency is down raises nothing of its own: it is listed on the
  alerts of the services it is down because of, and pages in the first round after its last
  cause recovers (when it stays down on its own);
- an open alert resolves when its service is no longer down.

Every round is idempotent: a service already alerting raises nothing new.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from django.db import transaction

from alerts.actors import HEALTH
from alerts.models import Alert, Rule
from alerts.models.alerts import fingerprint_for
from alerts.services import close_alert, open_alert
from health.models import Service, StateChange
from health.outcomes import State
from health.selectors import current_outages

logger = logging.getLogger(__name__)

SERVICE_DOWN = "service_down"
RECOVERED_STATES = (State.UP, State.DEGRADED)


def service_down_rule() -> Rule | None:
    return Rule.objects.filter(slug=SERVICE_DOWN, builtin=True).first()


def handle_round(completed: Any) -> None:
    """The round handler registered with health: decide service_down alerts from the graph."""
    rule = service_down_rule()
    if rule is None:  # said when a state moves, not every round
        level = logging.WARNING if completed.changes else logging.DEBUG
        logger.log(level, "no service_down rule: run bootstrap")
        return
    reconcile_service_down(rule=rule, at=completed.checked_at)


@transaction.atomic
def reconcile_service_down(*, rule: Rule, at: datetime) -> None:
    """Raise, update and resolve ``service_down`` alerts so they match the current outages."""
    outages = current_outages()
    open_alerts = _open_alerts(rule)
    for slug, alert in open_alerts.items():
        outage = outages.get(slug)
        if outage is None:
            close_alert(alert=alert, now=at, actor=HEALTH, reason=_why_closed(slug))
        else:
            _set_impacted(alert, rule, list(outage.impacted))
    if not rule.enabled:
        return
    for slug, outage in sorted(outages.items()):
        if slug in open_alerts or not outage.is_root:
            continue
        raise_service_down(
            rule=rule,
            service=outage.service,
            at=at,
            cause=_cause_of(outage.service),
            impacted=list(outage.impacted),
        )


def _open_alerts(rule: Rule) -> dict[str, Alert]:
    rows = (
        Alert.objects.select_for_update(of=("self",))
        .select_related("rule")
        .filter(rule=rule, source=Alert.Source.HEALTH, state__in=Alert.OPEN_STATES)
        .order_by("pk")
    )
    return {str(alert.labels.get("service", "")): alert for alert in rows}


def _why_closed(slug: str) -> str:
    service = Service.objects.filter(slug=slug).first()
    if service is None or not service.enabled:
        return "service no longer monitored"
    return "service recovered"


def _cause_of(service: Any) -> str:
    """Why the service is down: its last state change to down, else its last error."""
    cause = (
        StateChange.objects.filter(service=service, to_state=State.DOWN)
        .order_by("-at", "-pk")
        .values_list("cause", flat=True)
        .first()
    )
    return cause or service.last_error or ""


def _identity(service_slug: str) -> dict[str, str]:
    return {"service": service_slug}


def _open_alert_of(rule: Rule, service_slug: str) -> Alert | None:
    fingerprint = fingerprint_for(Alert.Source.HEALTH, str(rule.pk), _identity(service_slug))
    return (
        Alert.objects.select_for_update(of=("self",))
        .select_related("rule")
        .filter(fingerprint=fingerprint, state__in=Alert.OPEN_STATES)
        .first()
    )


def _impact_of(service: Any) -> tuple[list[str], bool]:
    """Who is down because of ``service``, and whether any of them is critical."""
    outages = current_outages()
    outage = outages.get(service.slug)
    impacted = list(outage.impacted) if outage else []
    return impacted, any(outages[slug].service.critical for slug in impacted)


@transaction.atomic
def raise_service_down(
    *,
    rule: Rule,
    service: Any,
    at: datetime,
    cause: str = "",
    impacted: list[str] | None = None,
) -> Alert | None:
    """Open the service's alert (firing) unless one is open or the outage is not critical."""
    if impacted is None:
        impacted, critical_impact = _impact_of(service)
    else:
        critical_impact = _any_critical(impacted)
    if not service.critical and not critical_impact:
        return None
    if _open_alert_of(rule, service.slug) is not None:
        return None
    labels = {**{str(k): str(v) for k, v in (rule.labels or {}).items()}, "service": service.slug}
    alert = open_alert(
        rule=rule,
        source=Alert.Source.HEALTH,
        labels=labels,
        identity=_identity(service.slug),
        value=None,
        now=at,
        actor=HEALTH,
        details={"service": service.slug, "cause": cause[:1000], "impacted": sorted(impacted)},
    )
    if alert is not None:
        _describe(alert, rule)
        alert.save(update_fields=["summary", "description"])
        logger.info(
            "service_down raised",
            extra={"alert": alert.pk, "service": service.slug, "impacted": sorted(impacted)},
        )
    return alert


def _any_critical(slugs: list[str]) -> bool:
    return Service.objects.filter(slug__in=slugs, critical=True).exists()


def _describe(alert: Alert, rule: Rule) -> None:
    """Summary and description from the rule's annotations, plus the cause and who it takes down."""
    service = alert.labels.get("service", "")
    text = rule.render("description", value=None, labels=alert.labels) or f"{service} is down."
    if alert.details.get("cause"):
        text = f"{text}\nCause: {alert.details['cause']}"
    impacted = alert.details.get("impacted") or []
    if impacted:
        text = f"{text}\nAlso down because of it: {', '.join(impacted)}."
    alert.summary = rule.render("summary", value=None, labels=alert.labels) or f"{service} is down"
    alert.description = text


def _set_impacted(alert: Alert, rule: Rule, impacted: list[str]) -> None:
    if list(alert.details.get("impacted") or []) == sorted(impacted):
        return
    alert.details = {**alert.details, "impacted": sorted(impacted)}
    _describe(alert, rule)
    alert.save(update_fields=["details", "summary", "description"])


@transaction.atomic
def resolve_service_down(*, rule: Rule, service: Any, at: datetime) -> bool:
    """Resolve the service's open alert (it recovered); False when none was open."""
    alert = _open_alert_of(rule, service.slug)
    if alert is None:
        return False
    close_alert(alert=alert, now=at, actor=HEALTH, reason="service recovered")
    return True
