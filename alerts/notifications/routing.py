"""Which channels and which escalation policy an alert goes to.

A rule reaches the union of
- its explicit channels (``Rule.notification_channels``), when enabled, and
- the kind shorthand (``Rule.channels``, e.g. ``["slack", "email"]``): every enabled channel of
  those kinds that accepts rules by kind (``NotificationChannel.for_rule_kinds``);
each channel at most once. Its policy is ``Rule.escalation_policy`` when set, else the policy of
its severity (``POLICY_BY_SEVERITY``).
"""

from __future__ import annotations

from django.db.models import Q

from alerts.models import Alert, EscalationPolicy, NotificationChannel, Rule

# The policy an alert follows, by its severity (info and warning alerts do not escalate).
POLICY_BY_SEVERITY = {"critical": "Critical", "error": "Error"}


def route_for(alert: Alert) -> tuple[list[NotificationChannel], EscalationPolicy | None]:
    """The channels notified when ``alert`` fires, and the policy that escalates it."""
    enabled = NotificationChannel.objects.filter(enabled=True).order_by("pk")
    if alert.source == Alert.Source.SELF:
        # A self-alert about a failing channel goes through every *other* channel.
        failing = (alert.labels or {}).get("channel", "")
        return list(enabled.exclude(name=failing)), None
    rule = alert.rule
    if rule is None:
        return [], policy_for_severity(alert.severity)
    return channels_for_rule(rule), policy_for_rule(rule, severity=alert.severity)


def channels_for_rule(rule: Rule) -> list[NotificationChannel]:
    """The rule's enabled explicit channels and the enabled channels its kinds name, once each."""
    reach = Q(rules=rule)
    kinds = [kind for kind in (rule.channels or []) if isinstance(kind, str)]
    if kinds:
        reach |= Q(kind__in=kinds, for_rule_kinds=True)
    ids = NotificationChannel.objects.filter(reach).values("pk")
    return list(NotificationChannel.objects.filter(enabled=True, pk__in=ids).order_by("pk"))


def policy_for_rule(rule: Rule, *, severity: str | None = None) -> EscalationPolicy | None:
    """The rule's own policy, else the one for ``severity`` (the alert's; default the rule's)."""
    if rule.escalation_policy_id is not None:
        policy = EscalationPolicy.objects.filter(pk=rule.escalation_policy_id).first()
        if policy is not None:
            return policy
    return policy_for_severity(severity if severity is not None else rule.severity)


def policy_for_severity(severity: str) -> EscalationPolicy | None:
    name = POLICY_BY_SEVERITY.get(severity)
    return EscalationPolicy.objects.filter(name=name).first() if name else None
