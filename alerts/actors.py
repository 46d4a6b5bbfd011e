"""Who acted: the actor strings written on alert events and in logs, in one place.

A person acts as their username; the system acts under one of these names.
"""

from __future__ import annotations

from typing import Any, TypeAlias

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

# Who made a change: the request's user, or None for the system (engine, bootstrap).
UserLike: TypeAlias = AbstractBaseUser | AnonymousUser | None

ENGINE = "engine"  # the evaluation engine, and a person-less change to rules
HEALTH = "health"  # the service_down rule, driven by health rounds
NOTIFICATIONS = "notifications"  # the outbox, escalation and channel self-alerts
SILENCES = "silences"  # a silence or maintenance window releasing held notifications
API = "api"  # an API call without a username (a synthetic alert)
SYSTEM = "system"  # a silence written without a user
SELF_CHECK = "self-check"  # the monitor's own alerts (alerts/sources/self_check.py)
ANOMALY = "anomaly"  # anomaly detectors (alerts/anomalies/)
INTAKE = "intake"  # external alerts (Alertmanager-compatible intake), as "intake:<token name>"


def actor_name(user: UserLike, *, default: str) -> str:
    """The user's username, or ``default`` when no person acted."""
    return getattr(user, "username", "") or default


def user_row(user: UserLike) -> Any:
    """The user row to store for ``user``: None for the system and for anonymous requests."""
    return user if user is not None and user.is_authenticated and user.pk else None
