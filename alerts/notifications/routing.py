"""Which channels and which escalation policy an alert goes to.

Rules still name channel *kinds* (``Rule.channels``) and have no policy field; this one function
maps them to channel rows and a policy, so that switching rules to direct references later
changes nothing else.
"""

from __future__ import annotations

from alerts.models import Alert, EscalationPolicy, NotificationChannel

# The policy an alert follows, by its severity (info and warning alerts do not escalate).
POLICY_BY_SEVERITY = {"critical": "Critical", "error": "Error"}


def route_for(alert: Alert) -> tuple[list[NotificationChannel], EscalationPolicy | None]:
    """The channels notified when ``alert`` fires, and the policy that escalates it."""
    enabled = NotificationChannel.objects.filter(enabled=True).order_by("pk")
    if alert.source == Alert.Source.SELF:
        # A self-alert about a failing channel goes through every *other* channel.
        failing = (alert.labels or {}).get("channel", "")
        return list(enabled.exclude(name=failing)), None
    kinds = list(alert.rule.channels or []) if alert.rule is not None else []
    channels = list(enabled.filter(kind__in=kinds, for_rule_kinds=True)) if kinds else []
    return channels, policy_for_severity(alert.severity)


def policy_for_severity(severity: str) -> EscalationPolicy | None:
    name = POLICY_BY_SEVERITY.get(severity)
    return EscalationPolicy.objects.filter(name=name).first() if name else None
