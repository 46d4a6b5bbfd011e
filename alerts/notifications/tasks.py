"""django-q2 entry points of notification delivery (thin: they call a service)."""

from __future__ import annotations

from alerts.notifications.dispatch import dispatch_due as _dispatch_due
from alerts.notifications.escalation import escalate_due


def dispatch_due() -> str:
    """Deliver what is due: enqueued on commit of every new row, and swept every minute."""
    return f"{_dispatch_due()} notification(s) processed"


def escalate() -> str:
    """Escalate firing, unacknowledged alerts past their level's wait (every minute)."""
    return f"{escalate_due()} escalation step(s)"
