"""Health alerts: the built-in ``service_down`` rule, fed by health's state-change hand-off.

A critical service that goes down raises a firing ``service_down`` alert (health already waited
out its failure threshold, so the rule's ``for`` is zero); it resolves when the service is back.
A service that is down because a dependency is down raises nothing of its own: it is listed on
the dependency's alert instead. A non-critical dependency whose outage takes a critical service
down alerts too, since the outage it causes is critical.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from django.db import transaction

from alerts.models import Alert, Rule
from alerts.models.alerts import fingerprint_for
from alerts.services import close_alert, open_alert

logger = logging.getLogger(__name__)

SERVICE_DOWN = "service_down"
ACTOR = "health"
RECOVERED_STATES = ("up", "degraded")


def service_down_rule() -> Rule | None:
    return Rule.objects.filter(slug=SERVICE_DOWN, builtin=True).first()


def handle_state_change(change: Any) -> None:
    """The handler registered with health: raise, extend or resolve service_down alerts."""
    rule = service_down_rule()
    if rule is None:
        logger.warning("no service_down rule: run bootstrap", extra={"change": change.pk})
        return
    service = change.service
    if change.to_state == "down":
        if change.impacted_by:
            _add_impacted(rule, service.slug, list(change.impacted_by))
        elif rule.enabled:
            raise_service_down(rule=rule, service=service, at=change.at, cause=change.cause)
    elif change.to_state in RECOVERED_STATES:
        resolve_service_down(rule=rule, service=service, at=change.at)
        _remove_impacted(rule, service.slug)


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


def _impacted_slugs(service: Any) -> list[tuple[str, bool]]:
    from health.selectors import impacted_services

    return [(item.slug, bool(item.critical)) for item in impacted_services(service)]


@transaction.atomic
def raise_service_down(*, rule: Rule, service: Any, at: datetime, cause: str = "") -> Alert | None:
    """Open the service's alert (firing) unless one is open or the outage is not critical."""
    impacted = _impacted_slugs(service)
    if not service.critical and not any(critical for _, critical in impacted):
        return None
    if _open_alert_of(rule, service.slug) is not None:
        return None
    slugs = sorted(slug for slug, _ in impacted)
    labels = {**{str(k): str(v) for k, v in (rule.labels or {}).items()}, "service": service.slug}
    alert = open_alert(
        rule=rule,
        source=Alert.Source.HEALTH,
        labels=labels,
        identity=_identity(service.slug),
        value=None,
        now=at,
        actor=ACTOR,
        details={"service": service.slug, "cause": cause[:1000], "impacted": slugs},
    )
    if alert is not None:
        _describe(alert, rule)
        alert.save(update_fields=["summary", "description"])
    return alert


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


@transaction.atomic
def resolve_service_down(*, rule: Rule, service: Any, at: datetime) -> bool:
    alert = _open_alert_of(rule, service.slug)
    if alert is None:
        return False
    close_alert(alert=alert, now=at, actor=ACTOR, reason="service recovered")
    return True


@transaction.atomic
def _add_impacted(rule: Rule, slug: str, dependencies: list[str]) -> None:
    for dependency in dependencies:
        alert = _open_alert_of(rule, dependency)
        if alert is None:
            continue
        impacted = list(alert.details.get("impacted") or [])
        if slug not in impacted:
            alert.details = {**alert.details, "impacted": sorted([*impacted, slug])}
            _describe(alert, rule)
            alert.save(update_fields=["details", "summary", "description"])


@transaction.atomic
def _remove_impacted(rule: Rule, slug: str) -> None:
    for alert in Alert.objects.select_for_update().filter(
        rule=rule,
        source=Alert.Source.HEALTH,
        state__in=Alert.OPEN_STATES,
    ):
        impacted = list(alert.details.get("impacted") or [])
        if slug in impacted:
            impacted.remove(slug)
            alert.details = {**alert.details, "impacted": impacted}
            _describe(alert, rule)
            alert.save(update_fields=["details", "summary", "description"])
