"""The admin as an operations console: operators and admins log in by role, not by is_staff."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.http import HttpRequest

from health.hooks import notices
from monitoring_site.admin_roles import refuse_unavailable_action
from monitoring_site.lockout import LockoutAwareAuthenticationForm
from monitoring_site.roles import Role, has_role


def may_enter_admin(user: Any) -> bool:
    """Active staff, superusers, and users holding the operator role or higher."""
    return bool(user.is_active and (user.is_staff or has_role(user, Role.OPERATOR)))


class RoleAuthenticationForm(LockoutAwareAuthenticationForm, AdminAuthenticationForm):
    """Django's admin login form insists on ``is_staff``; here the role decides."""

    def confirm_login_allowed(self, user: Any) -> None:
        AuthenticationForm.confirm_login_allowed(self, user)
        if not may_enter_admin(user):
            raise ValidationError(
                self.error_messages["invalid_login"],
                code="invalid_login",
                params={"username": self.username_field.verbose_name},
            )


class MonitoringAdminSite(admin.AdminSite):
    site_header = "TicketToken monitoring"
    site_title = "TicketToken monitoring"
    index_title = "Operations console"
    login_form = RoleAuthenticationForm

    def has_permission(self, request: HttpRequest) -> bool:
        return may_enter_admin(request.user)

    def admin_view(self, view: Any, cacheable: bool = False) -> Any:
        """Every changelist refuses (403) an action its user may not run, whoever registered it."""
        model_admin = getattr(view, "__self__", None)
        if getattr(view, "__name__", "") == "changelist_view" and model_admin is not None:
            changelist = view

            def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
                refuse_unavailable_action(model_admin, request)
                return changelist(request, *args, **kwargs)

            view = guarded
        return super().admin_view(view, cacheable)

    def each_context(self, request: HttpRequest) -> dict[str, Any]:
        """Every admin page also carries the site's notices (templates/admin/base_site.html)."""
        context = super().each_context(request)
        context["site_notices"] = site_notices() if self.has_permission(request) else []
        return context


def site_notices() -> list[dict[str, Any]]:
    """What the apps want on every console page (alerts that reach nobody), via health's hooks."""

    return notices()
