"""Seeding of the alerts app (``manage.py bootstrap``): one module per sub-domain.

``rules`` seeds the default rules and the built-in ``service_down`` rule; ``notifications`` the
channels and escalation policies the environment describes; ``anomalies`` the default anomaly
detectors. Nothing an admin edited or deleted
is ever overruled.
"""

from __future__ import annotations

from collections.abc import Callable

from django.db import transaction

from alerts.bootstrap import anomalies, notifications, rules

Log = Callable[[str], None]


@transaction.atomic
def seed(log: Log) -> None:
    """Seed the rules, then the channels and policies (one transaction)."""
    rules.seed(log)
    notifications.seed(log)
    anomalies.seed(log)
