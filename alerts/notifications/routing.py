"""Which channels and which escalation policy an alert goes to.

A rule reaches the union of
- its explicit channels (``Rule.notification_channels``), when enabled, and
- the kind shorthand (``Rule.channels``, e.g. ``["slack", "email"]``): every enabled channel of
  those kinds that accepts rules by kind (``NotificationChannel.for_rule_kinds``);
each channel at most once. Its policy is ``Rule.escalation_policy`` when set, else the policy of
its severity (``Severity.default_policy``).

A channel *works* when it is enabled and not known to be broken (its self-alert is open: it
failed permanently, or kept failing for ``NOTIFY_CHANNEL_FAILING_MINUTES``). What reaches no
working channel is recorded on the alert and shown as a warning (``routing_gaps``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db.models import Q

from alerts.models import (
    Alert,
    AnomalyDetector,
    EscalationLevel,
    EscalationPolicy,
    NotificationChannel,
    Rule,
)
from alerts.models.alerts import fingerprint_for
from alerts.models.anomalies import ANOMALY_RULE
from alerts.notifications.channel_health import SELF_RULE
from alerts.severity import Severity

Target = tuple[NotificationChannel, int | None]


def route_for(alert: Alert) -> tuple[list[NotificationChannel], EscalationPolicy | None]:
    """The channels notified when ``alert`` fires, and the policy that escalates it."""
    enabled = NotificationChannel.objects.filter(enabled=True).order_by("pk")
    if alert.source == Alert.Source.SELF:
        # A self-alert about a failing channel goes through every *other* channel.
        failing = (alert.labels or {}).get("channel", "")
        return list(enabled.exclude(name=failing)), None
    if alert.source == Alert.Source.ANOMALY and alert.detector_id is not None:
        # An anomaly goes where its detector says, escalated by the policy of its severity.
        detector = AnomalyDetector.objects.filter(pk=alert.detector_id).first()
        if detector is not None:
            return channels_for_detector(detector), policy_for_severity(alert.severity)
    rule = alert.rule
    if rule is None:
        return [], policy_for_severity(alert.severity)
    return channels_for_rule(rule), policy_for_rule(rule, severity=alert.severity)


def channels_for_rule(rule: Rule) -> list[NotificationChannel]:
    """The rule's enabled explicit channels and the enabled channels its kinds name, once each."""
    return _reached(Q(rules=rule), rule.channels)


def channels_for_detector(detector: AnomalyDetector) -> list[NotificationChannel]:
    """As :func:`channels_for_rule`, for an anomaly detector's channels and kinds."""
    return _reached(Q(anomaly_detectors=detector), detector.channels)


def _reached(reach: Q, channel_kinds: list[str] | None) -> list[NotificationChannel]:
    kinds = [kind for kind in (channel_kinds or []) if isinstance(kind, str)]
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
    name = _default_policy(severity)
    return EscalationPolicy.objects.filter(name=name).first() if name else None


@dataclass(frozen=True)
class FiringRoute:
    """Who hears of a firing: the rule's channels and level 1 of its policy (each once)."""

    targets: list[Target]
    policy: EscalationPolicy | None
    levels: list[EscalationLevel]


def firing_route(alert: Alert) -> FiringRoute:
    """The enabled channels told when ``alert`` fires, and the policy that escalates it."""
    channels, policy = route_for(alert)
    levels = policy.ordered_levels() if policy is not None else []
    targets: dict[int, Target] = {channel.pk: (channel, None) for channel in channels}
    if levels:
        # A channel reached by both the rule and level 1 gets one message (marked level 1).
        for channel in levels[0].channels.all():
            if channel.enabled:
                targets[channel.pk] = (channel, 1)
    return FiringRoute(list(targets.values()), policy, levels)


def broken_channel_ids(channels: Iterable[NotificationChannel]) -> set[int]:
    """Those of ``channels`` whose self-alert is open: failing permanently or for too long."""
    failing = {
        fingerprint_for(Alert.Source.SELF, SELF_RULE, {"channel": channel.name}): channel.pk
        for channel in channels
        if channel.failing_since is not None
    }
    if not failing:
        return set()
    open_prints = Alert.objects.filter(
        fingerprint__in=list(failing), state__in=Alert.OPEN_STATES
    ).values_list("fingerprint", flat=True)
    return {failing[fingerprint] for fingerprint in open_prints}


def working(channels: list[NotificationChannel]) -> list[NotificationChannel]:
    broken = broken_channel_ids(channels)
    return [channel for channel in channels if channel.enabled and channel.pk not in broken]


def unrouted_reason(channels: list[NotificationChannel]) -> str:
    """Why no working channel carries an alert routed to ``channels``; "" when one does."""
    if working(channels):
        return ""
    if channels:
        names = ", ".join(sorted(channel.name for channel in channels))
        return f"every channel it routes to is failing: {names}"[:300]
    if not NotificationChannel.objects.exists():
        return "no notification channel is configured"
    if not NotificationChannel.objects.filter(enabled=True).exists():
        return "every notification channel is disabled"
    return "no enabled channel matches its rule or the first level of its policy"


def level_gap(level: EscalationLevel, policy: EscalationPolicy | None) -> str:
    """Why an escalation level reaches no working channel; "" when it reaches one."""
    channels = [channel for channel in level.channels.all() if channel.enabled]
    if working(channels):
        return ""
    where = f"escalation level {level.position} ({level.name})" + (
        f" of {policy.name}" if policy is not None else ""
    )
    if not channels:
        return f"{where} has no channel"
    return f"{where}: every channel is failing"


@dataclass(frozen=True)
class RoutingGaps:
    """What reaches no working channel now: the warning shown in the admin and on the dashboard."""

    channels: int
    working_channels: int
    rules: list[str]
    policies: dict[str, list[int]]
    unrouted_alerts: int

    @property
    def ok(self) -> bool:
        return not (self.rules or self.policies or self.unrouted_alerts)


def routing_gaps() -> RoutingGaps:
    """Enabled rules and the policies they use that reach no working channel, and the firing
    alerts no working channel carried (a handful of queries, whatever the number of rules)."""
    channels = list(NotificationChannel.objects.all())
    usable = {channel.pk for channel in working(channels)}
    by_kind: dict[str, set[int]] = {}
    for channel in channels:
        if channel.pk in usable and channel.for_rule_kinds:
            by_kind.setdefault(channel.kind, set()).add(channel.pk)
    policies = list(EscalationPolicy.objects.prefetch_related("levels__channels"))
    levels = {p.pk: sorted(p.levels.all(), key=lambda level: level.position) for p in policies}
    rules, used = [], set()
    # The built-in anomaly rule routes nothing itself: each detector says where its alerts go.
    enabled_rules = Rule.objects.filter(enabled=True).exclude(slug=ANOMALY_RULE, builtin=True)
    routers: list[tuple[str, Any, list[int], list[str]]] = [
        (rule.name, rule, [c.pk for c in rule.notification_channels.all()], rule.channels)
        for rule in enabled_rules.prefetch_related("notification_channels")
    ]
    detectors = AnomalyDetector.objects.filter(enabled=True).prefetch_related(
        "notification_channels"
    )
    routers += [
        (
            f"{d.name} (anomaly detector)",
            d,
            [c.pk for c in d.notification_channels.all()],
            d.channels,
        )
        for d in detectors
    ]
    for name, router, explicit, kinds in routers:
        policy = _policy_of(router, policies)
        first = set()
        if policy is not None:
            used.add(policy.pk)
            first = (
                {c.pk for c in levels[policy.pk][0].channels.all()} if levels[policy.pk] else set()
            )
        reach = set(explicit) | first
        for kind in kinds or []:
            reach |= by_kind.get(str(kind), set())
        if not reach & usable:
            rules.append(name)
    gaps = {
        policy.name: [
            level.position
            for level in levels[policy.pk]
            if not {channel.pk for channel in level.channels.all()} & usable
        ]
        for policy in policies
        if policy.pk in used
    }
    return RoutingGaps(
        channels=len(channels),
        working_channels=len(usable),
        rules=sorted(rules),
        policies={name: positions for name, positions in sorted(gaps.items()) if positions},
        unrouted_alerts=Alert.objects.filter(
            state=Alert.State.FIRING, unrouted_since__isnull=False
        ).count(),
    )


def _policy_of(
    rule: Rule | AnomalyDetector, policies: list[EscalationPolicy]
) -> EscalationPolicy | None:
    """The policy a rule's (or detector's) alerts follow, from rows already loaded (as
    ``policy_for_rule``; a detector follows the policy of its severity)."""
    if isinstance(rule, Rule) and rule.escalation_policy_id is not None:
        own = next((p for p in policies if p.pk == rule.escalation_policy_id), None)
        if own is not None:
            return own
    name = _default_policy(rule.severity)
    return next((p for p in policies if p.name == name), None)


def _default_policy(severity: str) -> str | None:
    known = Severity.of(severity)
    return known.default_policy if known is not None else None
