"""The one severity vocabulary: its values, order, colour, vendor mappings and default policy.

Rules store it (``Rule.severity``), alerts copy it, channels render it. Everything that depends
on a severity reads an attribute here rather than keeping its own table.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import models


class Severity(models.TextChoices):
    """How bad an alert is, from ``info`` to ``critical``."""

    INFO = "info"
    WARNING = "warning"
    ERROR = "error"
    CRITICAL = "critical"

    @classmethod
    def of(cls, value: str) -> Severity | None:
        """The severity named ``value``, or None for a name that is not one."""
        return cls(value) if value in cls.values else None

    @property
    def rank(self) -> int:
        """Sort key, most severe first (critical 0 ... info 3)."""
        return _TRAITS[self].rank

    @property
    def colour(self) -> str:
        """The accent colour of emails (hex)."""
        return _TRAITS[self].colour

    @property
    def pagerduty_severity(self) -> str:
        """PagerDuty Events API v2 ``payload.severity``."""
        return _TRAITS[self].pagerduty_severity

    @property
    def pagerduty_urgency(self) -> str:
        """PagerDuty REST API v2 incident ``urgency``."""
        return _TRAITS[self].pagerduty_urgency

    @property
    def slack_icon(self) -> str:
        """The emoji that leads a Slack message."""
        return _TRAITS[self].slack_icon

    @property
    def default_policy(self) -> str | None:
        """The escalation policy (by name) an alert of this severity follows unless its rule names
        one; info and warning alerts do not escalate."""
        return _TRAITS[self].default_policy


@dataclass(frozen=True)
class _Traits:
    rank: int
    colour: str
    pagerduty_severity: str
    pagerduty_urgency: str
    slack_icon: str
    default_policy: str | None


_TRAITS = {
    Severity.CRITICAL: _Traits(0, "#b42318", "critical", "high", ":red_circle:", "Critical"),
    Severity.ERROR: _Traits(1, "#d9480f", "error", "high", ":large_orange_circle:", "Error"),
    Severity.WARNING: _Traits(2, "#b08800", "warning", "low", ":large_yellow_circle:", None),
    Severity.INFO: _Traits(3, "#1f6feb", "info", "low", ":large_blue_circle:", None),
}

# For a severity that is not one of ours (an old payload, a hand-written test message).
UNKNOWN_RANK = len(_TRAITS)
UNKNOWN_COLOUR = "#57606a"
UNKNOWN_PAGERDUTY_SEVERITY = "error"
UNKNOWN_PAGERDUTY_URGENCY = "high"
UNKNOWN_SLACK_ICON = ":bell:"
