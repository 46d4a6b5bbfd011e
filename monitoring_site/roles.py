"""Roles are Django groups: viewer < operator < admin; a superuser holds every role."""

from __future__ import annotations

from enum import IntEnum
from typing import Any


class Role(IntEnum):
    VIEWER = 1
    OPERATOR = 2
    ADMIN = 3

    @property
    def group_name(self) -> str:
        return self.name.lower()


ROLE_BY_GROUP = {role.group_name: role for role in Role}


def user_role(user: Any) -> Role | None:
    """The highest role a user holds, or None (denied everywhere)."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return None
    if user.is_superuser:
        return Role.ADMIN
    if hasattr(user, "_monitoring_role"):
        return user._monitoring_role
    names = user.groups.filter(name__in=ROLE_BY_GROUP).values_list("name", flat=True)
    role = max((ROLE_BY_GROUP[name] for name in names), default=None)
    user._monitoring_role = role
    return role


def has_role(user: Any, role: Role) -> bool:
    held = user_role(user)
    return held is not None and held >= role
