"""Reads of the alert pages: filtered alert lists, an alert's timeline, the rules' last state."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import OuterRef, Q, QuerySet, Subquery

from alerts.models import Alert, AlertEvent, Notification, Rule
from alerts.selectors import RECENT_WINDOW, active_alerts
from monitoring_site.humanize import format_number

RECENT_LIMIT = 100


@dataclass(frozen=True)
class AlertFilters:
    """What the alerts page shows: each field empty means "any"."""

    severity: str = ""
    state: str = ""
    source: str = ""
    service: str = ""
    rule: str = ""

    def apply(self, queryset: QuerySet[Alert]) -> QuerySet[Alert]:
        for name in ("severity", "state", "source"):
            value = getattr(self, name)
            if value:
                queryset = queryset.filter(**{name: value})
        if self.service:
            # A rule's alert carries the service as a label; a health alert in its details.
            queryset = queryset.filter(
                Q(labels__service=self.service)
                | Q(source=Alert.Source.HEALTH, details__service=self.service)
            )
        if self.rule:
            queryset = queryset.filter(rule__slug=self.rule)
        return queryset


def page_alerts(filters: AlertFilters, *, now: datetime) -> tuple[list[Alert], list[Alert]]:
    """The open alerts (most severe first) and those resolved in the last day (newest first)."""
    active = list(filters.apply(active_alerts())) if filters.state != "resolved" else []
    recent: list[Alert] = []
    if filters.state in ("", Alert.State.RESOLVED):
        recent = list(
            filters.apply(
                Alert.objects.filter(
                    state=Alert.State.RESOLVED, resolved_at__gte=now - RECENT_WINDOW
                )
            )
            .select_related("rule")
            .order_by("-resolved_at", "-pk")[:RECENT_LIMIT]
        )
    return active, recent


def service_of(alert: Alert) -> str:
    """The service an alert is about: its ``service`` label, or a health alert's service."""
    labels = alert.labels or {}
    if "service" in labels:
        return str(labels["service"])
    return str((alert.details or {}).get("service", ""))


@dataclass(frozen=True)
class Moment:
    """One line of an alert's timeline."""

    at: datetime
    kind: str  # fired, notified, escalated, acknowledged, resolved, ...
    text: str
    actor: str = ""
    outcome: str = ""  # a notification's state: queued, sending, delivered, failed


def timeline(alert: Alert) -> list[Moment]:
    """The alert's events and the messages sent about it, in time order."""
    moments = [_event_moment(event) for event in alert.events.order_by("at", "pk")]
    rows = Notification.objects.filter(alert=alert).select_related("channel")
    moments += [_notification_moment(row) for row in rows.order_by("created_at", "pk")]
    order = {"notified": 1, "escalated": 1}
    return sorted(moments, key=lambda m: (m.at, order.get(m.kind, 0)))


_EVENT_TEXT = {
    AlertEvent.Kind.PENDING: "Condition true: waiting out the rule's for",
    AlertEvent.Kind.FIRING: "Fired",
    AlertEvent.Kind.ACKNOWLEDGED: "Acknowledged",
    AlertEvent.Kind.RESOLVED: "Resolved",
    AlertEvent.Kind.UPDATED: "Updated",
    AlertEvent.Kind.UNROUTED: "Reached no channel",
    AlertEvent.Kind.ROUTED: "Routed to a channel again",
}


def _event_moment(event: AlertEvent) -> Moment:
    details: dict[str, Any] = event.details or {}
    text = _EVENT_TEXT.get(event.kind, event.kind)  # type: ignore[call-overload]
    if event.kind == AlertEvent.Kind.FIRING and details.get("value") is not None:
        text += f" at value {_number(details['value'])}"
    if event.kind == AlertEvent.Kind.RESOLVED and details.get("reason"):
        text += f" ({details['reason']})"
    suppressed = details.get("suppressed")
    if suppressed:
        text += f"; not announced: {str(suppressed).replace('_', ' ').replace(':', ' #')}"
    kind = "fired" if event.kind == AlertEvent.Kind.FIRING else str(event.kind)
    return Moment(at=event.at, kind=kind, text=text, actor=event.actor)


def _notification_moment(row: Notification) -> Moment:
    channel = f"{row.channel.name} ({row.channel.kind})"
    if row.kind == Notification.Kind.ESCALATED:
        return Moment(
            at=row.created_at,
            kind="escalated",
            text=f"Escalated to level {row.escalation_level}: {channel}",
            outcome=row.state,
        )
    level = f", level {row.escalation_level}" if row.escalation_level else ""
    return Moment(
        at=row.created_at,
        kind="notified",
        text=f"Notified {channel}: {row.get_kind_display().lower()} message{level}",
        outcome=row.state,
    )


def _number(value: Any) -> str:
    try:
        return format_number(float(value))
    except (TypeError, ValueError):
        return str(value)


def rules_overview() -> list[Rule]:
    """Every rule with its latest alert's state and time (``last_state``, ``last_state_at``)."""
    latest = Alert.objects.filter(rule=OuterRef("pk")).order_by("-started_at", "-pk")
    return list(
        Rule.objects.annotate(
            last_alert_id=Subquery(latest.values("pk")[:1]),
            last_state=Subquery(latest.values("state")[:1]),
            last_started_at=Subquery(latest.values("started_at")[:1]),
            last_resolved_at=Subquery(latest.values("resolved_at")[:1]),
        ).order_by("-enabled", "name")
    )
