"""A login page for the dashboard: viewers sign in here (the admin's login admits operators+)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.views import LoginView, LogoutView
from django.core.exceptions import ValidationError

from monitoring_site.lockout import LockoutAwareAuthenticationForm
from monitoring_site.roles import Role, has_role

LOGIN_URL = "/dashboard/login"


class ViewerAuthenticationForm(LockoutAwareAuthenticationForm):
    """Any active user holding the viewer role (or higher) may sign in to the dashboard.

    Repeated failures lock the (username, address) pair out (``monitoring_site.lockout``).
    """

    def confirm_login_allowed(self, user: Any) -> None:
        super().confirm_login_allowed(user)
        if not has_role(user, Role.VIEWER):
            raise ValidationError(
                "This account has no role that may see the dashboard.", code="no_role"
            )


class DashboardLoginView(LoginView):
    template_name = "health/login.html"
    authentication_form = ViewerAuthenticationForm
    redirect_authenticated_user = False
    next_page = "/"


class DashboardLogoutView(LogoutView):
    next_page = LOGIN_URL
