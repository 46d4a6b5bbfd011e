"""DRF permission classes for the three roles (groups); an unassigned user is denied."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

from monitoring_site.roles import Role, has_role


class _RolePermission(BasePermission):
    role = Role.VIEWER
    message = "Your account does not have the role this needs."

    def has_permission(self, request: Request, view: Any) -> bool:
        return has_role(request.user, self.role)


class IsViewer(_RolePermission):
    role = Role.VIEWER
    message = "This needs the viewer role (or higher)."


class IsOperator(_RolePermission):
    role = Role.OPERATOR
    message = "This needs the operator role (or higher)."


class IsAdmin(_RolePermission):
    role = Role.ADMIN
    message = "This needs the admin role."


class ViewerReadsAdminWrites(BasePermission):
    """Viewers read; writes need the admin role."""

    message = "Reading needs the viewer role; changes need the admin role."

    def has_permission(self, request: Request, view: Any) -> bool:
        needed = Role.VIEWER if request.method in SAFE_METHODS else Role.ADMIN
        return has_role(request.user, needed)
