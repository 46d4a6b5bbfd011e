"""The admin as an operations console: operators and admins log in by role, not by is_staff."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from monitoring_site.roles import Role, has_role


class MonitoringAdminSite(admin.AdminSite):
    site_header = "TicketToken monitoring"
    site_title = "TicketToken monitoring"
    index_title = "Operations console"

    def has_permission(self, request: HttpRequest) -> bool:
        user = request.user
        return bool(user.is_active and (user.is_staff or has_role(user, Role.OPERATOR)))
