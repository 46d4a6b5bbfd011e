"""The "alerts that reach nobody" warning: shown while anything routes to no working channel.

Registered with health's notice providers (dashboard, ``/health/detailed``, the admin banner).
It is computed from the rows each time, so it clears by itself once a working channel carries
every enabled rule, every level of the policies they use, and the alerts that reached nobody.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

from alerts.notifications.routing import RoutingGaps, routing_gaps

CODE = "unrouted"
LINK = "/admin/alerts/notificationchannel/"
FIX = (
    "Add a channel in the admin (Alerts > Notification channels), or set SLACK_WEBHOOK_URL, "
    "ALERT_TO_EMAIL with SMTP_HOST, or PAGERDUTY_ROUTING_KEY and run bootstrap; give each "
    "escalation level a channel (Alerts > Escalation policies). See docs/notifications.md."
)
SHOWN = 5


def routing_notices() -> list[dict[str, Any]]:
    """One warning while anything reaches no working channel, else nothing."""
    gaps = routing_gaps()
    if gaps.ok:
        return []
    return [
        {
            "code": CODE,
            "level": "warning",
            "title": "Alerts that reach nobody",
            "message": describe(gaps),
            "fix": FIX,
            "link": LINK,
        }
    ]


def describe(gaps: RoutingGaps) -> str:
    """The gaps in one paragraph, most urgent first."""
    parts = []
    if gaps.unrouted_alerts:
        count = gaps.unrouted_alerts
        parts.append(
            f"{count} open alert{'s' if count != 1 else ''} reached no notification channel"
        )
    if not gaps.channels:
        parts.append("no notification channel is configured")
    elif not gaps.working_channels:
        parts.append(f"none of the {gaps.channels} channels works (disabled or failing)")
    if gaps.rules:
        verb = "routes" if len(gaps.rules) == 1 else "route"
        parts.append(f"{_count(gaps.rules, 'enabled rule')} {verb} to no working channel: "
                     f"{_names(gaps.rules)}")  # fmt: skip
    if gaps.policies:
        levels = [
            f"{name} (level{'s' if len(positions) > 1 else ''} {', '.join(map(str, positions))})"
            for name, positions in gaps.policies.items()
        ]
        parts.append(f"escalation reaches no working channel at {', '.join(levels)}")
    text = "; ".join(parts) + "."
    return text[:1].upper() + text[1:]


def _count(names: list[str], noun: str) -> str:
    return f"{len(names)} {noun}{'s' if len(names) != 1 else ''}"


def _names(names: list[str]) -> str:
    shown = ", ".join(names[:SHOWN])
    return shown + (f" and {len(names) - SHOWN} more" if len(names) > SHOWN else "")


def bootstrap_hints() -> list[str]:
    """What ``bootstrap`` (run by ``make run``) prints about routing: how to fix what is missing."""

    gaps = routing_gaps()
    if gaps.working_channels:
        return [] if gaps.ok else [f"notification routing: {describe(gaps)}"]
    return [
        "no working notification channel: alerts will reach nobody. Configure one:",
        "  - Slack: SLACK_WEBHOOK_URL=https://hooks.slack.com/services/...",
        "  - e-mail: ALERT_TO_EMAIL=ops@example.com with SMTP_HOST (SMTP_PORT, SMTP_USER, "
        "SMTP_PASS)",
        "  - PagerDuty: PAGERDUTY_ROUTING_KEY=<Events API v2 integration key>",
        "  then run bootstrap again (make run does), or add one in the admin: "
        f"{settings.SITE_URL}{LINK}",
    ]
