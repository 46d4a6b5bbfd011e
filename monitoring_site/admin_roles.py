"""The admin obeys the API's role matrix: each page and action names the role it needs.

Project ModelAdmins derive from :class:`RoleAdmin` (or :class:`RoleHistoryAdmin` for models with
an edit history) and declare ``view_role``, ``add_role``, ``change_role`` and ``delete_role``;
``None`` means nobody, superusers included (rows the system writes). Custom actions declare
``permissions=[...]``, each backed by a ``has_<name>_permission`` method; :func:`role_permission`
builds one from a role. The role is checked, not the group's model permissions, so the admin and
the API (``monitoring_site.api.permissions``) answer from the same groups the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from simple_history.admin import SimpleHistoryAdmin

from monitoring_site.roles import Role, has_role

RoleCheck = Callable[[Any, HttpRequest], bool]


def allows(request: HttpRequest, role: Role | None) -> bool:
    """Whether the request's user holds ``role`` (``None``: nobody may)."""
    return role is not None and has_role(request.user, role)


def role_permission(role: Role) -> RoleCheck:
    """A ``has_<action>_permission`` method that requires ``role``."""

    def check(self: Any, request: HttpRequest) -> bool:
        return allows(request, role)

    check.__doc__ = f"Needs the {role.group_name} role."
    return check


class RoleAdmin(admin.ModelAdmin):
    """A ModelAdmin whose pages and actions follow the role matrix."""

    view_role: Role | None = Role.VIEWER
    add_role: Role | None = Role.ADMIN
    change_role: Role | None = Role.ADMIN
    delete_role: Role | None = Role.ADMIN

    def has_module_permission(self, request: HttpRequest) -> bool:
        return allows(request, self.view_role)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return allows(request, self.view_role) or self.has_change_permission(request, obj)

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return allows(request, self.add_role)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return allows(request, self.change_role)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return allows(request, self.delete_role)


class RoleInline(admin.options.InlineModelAdmin):
    """An inline following the role matrix (inlines check their own permissions)."""

    view_role: Role | None = Role.VIEWER
    add_role: Role | None = Role.ADMIN
    change_role: Role | None = Role.ADMIN
    delete_role: Role | None = Role.ADMIN

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return allows(request, self.view_role) or self.has_change_permission(request, obj)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return allows(request, self.add_role)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return allows(request, self.change_role)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return allows(request, self.delete_role)


def refuse_unavailable_action(model_admin: admin.ModelAdmin, request: HttpRequest) -> None:
    """An action the user may not run answers 403 (Django would say "No action selected").

    ``MonitoringAdminSite`` calls it before every changelist, for every registered ModelAdmin.
    """
    if request.method != "POST":
        return
    base_actions = model_admin._get_base_actions()  # type: ignore[attr-defined]
    declared = {name for _func, name, _description in base_actions}
    asked = {name for name in request.POST.getlist("action") if name in declared}
    if asked - set(model_admin.get_actions(request)):
        raise PermissionDenied


class RoleHistoryAdmin(RoleAdmin, SimpleHistoryAdmin):
    """A RoleAdmin with django-simple-history's pages (history list, a version, revert)."""

    def history_form_view(
        self,
        request: HttpRequest,
        object_id: str,
        version_id: str,
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        # simple-history saves a POSTed revert after checking only the view permission.
        if request.method == "POST" and not self.has_change_permission(request):
            raise PermissionDenied
        return super().history_form_view(request, object_id, version_id, extra_context)
