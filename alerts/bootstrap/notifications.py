"""Seed the default channels from the environment and the Critical and Error policies.

Each is created once (``first_time``): an admin's edits and deletions are never overruled.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction

from alerts.models import EscalationLevel, EscalationPolicy, NotificationChannel
from alerts.notifications.notices import bootstrap_hints
from alerts.notifications.services import save_channel
from monitoring_site.bootstrap import first_time

Log = Callable[[str], None]

EMAIL, SLACK, PAGERDUTY = "Email", "Slack", "PagerDuty"
PAGERDUTY_REST_SETTINGS = ("PAGERDUTY_API_KEY", "PAGERDUTY_SERVICE_ID", "PAGERDUTY_FROM")
ONCALL, TEAM_LEAD, ENG_MANAGER = "On-call engineer", "Team lead", "Engineering manager"
ROLE_SETTINGS = {
    ONCALL: "ONCALL_EMAIL",
    TEAM_LEAD: "TEAM_LEAD_EMAIL",
    ENG_MANAGER: "ENG_MANAGER_EMAIL",
}
# (policy, [(level name, wait minutes)]) as the issue specifies.
POLICIES: tuple[tuple[str, tuple[tuple[str, int], ...]], ...] = (
    ("Critical", ((ONCALL, 5), (TEAM_LEAD, 15), (ENG_MANAGER, 30))),
    ("Error", ((ONCALL, 15), (TEAM_LEAD, 60))),
)


def channel_specs() -> list[tuple[str, str, dict[str, Any], bool]]:
    """(name, kind, config, reached by rules) for every channel the environment configures."""
    specs: list[tuple[str, str, dict[str, Any], bool]] = []
    if settings.ALERT_TO_EMAIL:
        specs.append((EMAIL, "email", {"to": list(settings.ALERT_TO_EMAIL)}, True))
    if settings.SLACK_WEBHOOK_URL:
        specs.append((SLACK, "slack", {"webhook_url": settings.SLACK_WEBHOOK_URL}, True))
    elif settings.SLACK_TOKEN:
        config = {"token": settings.SLACK_TOKEN, "channel": settings.SLACK_CHANNEL}
        specs.append((SLACK, "slack", config, True))
    pagerduty = pagerduty_config()
    if pagerduty:
        specs.append((PAGERDUTY, "pagerduty", pagerduty, True))
    for role, setting in ROLE_SETTINGS.items():
        addresses = getattr(settings, setting)
        if addresses:
            specs.append((f"{role} email", "email", {"to": list(addresses)}, False))
    return specs


def pagerduty_config() -> dict[str, Any]:
    """Events API v2 with a routing key (preferred), else the REST API v2 with an API key."""
    if settings.PAGERDUTY_ROUTING_KEY:
        return {"routing_key": settings.PAGERDUTY_ROUTING_KEY}
    if settings.PAGERDUTY_API_KEY and settings.PAGERDUTY_SERVICE_ID and settings.PAGERDUTY_FROM:
        return {
            "api_key": settings.PAGERDUTY_API_KEY,
            "service_id": settings.PAGERDUTY_SERVICE_ID,
            "from": settings.PAGERDUTY_FROM,
        }
    return {}


def incomplete_settings() -> list[str]:
    """Channels the environment starts to configure but leaves unusable, by setting name."""
    given = {name for name in PAGERDUTY_REST_SETTINGS if getattr(settings, name)}
    if settings.PAGERDUTY_ROUTING_KEY or not given or given == set(PAGERDUTY_REST_SETTINGS):
        return []
    if NotificationChannel.objects.filter(name=PAGERDUTY).exists():
        return []
    missing = [name for name in PAGERDUTY_REST_SETTINGS if name not in given]
    return [f"{PAGERDUTY} (the REST API v2 needs {' and '.join(missing)} too)"]


@transaction.atomic
def seed(log: Log) -> None:
    created: list[str] = []
    skipped: list[str] = []
    if settings.NOTIFY_BOOTSTRAP_CHANNELS:
        skipped.extend(incomplete_settings())
        for name, kind, config, for_rules in channel_specs():
            if NotificationChannel.objects.filter(name=name).exists():
                continue
            if not first_time(f"alerts.channel:{name}"):
                continue
            problem = _create_channel(name, kind, config, for_rules)
            (skipped if problem else created).append(f"{name}{problem}")
    policies = [name for name, levels in POLICIES if _seed_policy(name, levels)]
    log(
        f"notification channels: {len(created)} created"
        + (f" ({', '.join(created)})" if created else "")
        + (f"; not created: {'; '.join(skipped)}" if skipped else "")
        + f"; escalation policies: {len(policies)} created"
    )

    for line in bootstrap_hints():
        log(line)


def _create_channel(name: str, kind: str, config: dict[str, Any], for_rules: bool) -> str:
    channel = NotificationChannel(name=name, kind=kind, config=config, for_rule_kinds=for_rules)
    try:
        channel.full_clean()
    except ValidationError as exc:
        # Say which setting is wrong without echoing it (a webhook URL holds a secret).
        return f" (invalid configuration: {', '.join(sorted(exc.message_dict))})"
    save_channel(channel=channel, user=None, reason="seeded by bootstrap")
    return ""


def _level_channels(level_name: str) -> list[NotificationChannel]:
    """The role's own email channel, else the default email channel (each level reaches someone)."""
    own = NotificationChannel.objects.filter(name=f"{level_name} email").first()
    if own is not None:
        return [own]
    fallback = NotificationChannel.objects.filter(name=EMAIL).first()
    return [fallback] if fallback is not None else []


def _seed_policy(name: str, levels: tuple[tuple[str, int], ...]) -> bool:
    if EscalationPolicy.objects.filter(name=name).exists() or not first_time(
        f"alerts.policy:{name}"
    ):
        return False
    policy = EscalationPolicy(name=name, description=f"Seeded: alerts of severity {name.lower()}.")
    # simple_history (no type stubs) reads this attribute for the history row.
    policy._change_reason = "seeded by bootstrap"  # type: ignore[attr-defined]
    policy.save()
    for position, (level_name, wait) in enumerate(levels, start=1):
        level = EscalationLevel.objects.create(
            policy=policy, position=position, name=level_name, wait_minutes=wait
        )
        level.channels.set(_level_channels(level_name))
    return True
