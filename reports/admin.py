"""Reports in the operations console: the stored days, their e-mails, and sending one again."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from monitoring_site.admin_roles import RoleAdmin, role_permission
from monitoring_site.roles import Role
from reports.models import Report, ReportDelivery
from reports.services import email_report


@admin.register(Report)
class ReportAdmin(RoleAdmin):
    """Made by the daily job or ``generate_report``: read-only here; admins may resend."""

    add_role = change_role = None
    list_display = ("day", "has_data", "time_zone", "generated_at", "page")
    list_filter = ("has_data",)
    date_hierarchy = "day"
    fields = ("day", "time_zone", "generated_at", "has_data", "page")
    readonly_fields = fields
    actions = ["send_by_email"]

    has_send_permission = role_permission(Role.ADMIN)

    @admin.display(description="page")
    def page(self, obj: Report) -> str:
        url = reverse("report-page", args=[f"{obj.day:%Y-%m-%d}"])
        return format_html('<a href="{}">{}</a>', url, url)

    @admin.action(description="E-mail the selected reports again", permissions=["send"])
    def send_by_email(self, request: HttpRequest, queryset: QuerySet[Report]) -> None:
        queued = [email_report(report=report) for report in queryset.order_by("day")]
        if not all(queued):
            self.message_user(
                request, "No recipients: set REPORT_RECIPIENTS or ALERT_TO_EMAIL.", messages.ERROR
            )
            return
        self.message_user(
            request,
            f"{len(queued)} report e-mail(s) queued; the minute job sends them.",
            messages.SUCCESS,
        )


@admin.register(ReportDelivery)
class ReportDeliveryAdmin(RoleAdmin):
    """The report e-mails and how their sending went (written by the delivery worker)."""

    add_role = change_role = None
    list_display = ("report", "state", "attempts", "created_at", "delivered_at", "last_error")
    list_filter = ("state",)
    list_select_related = ("report",)
    date_hierarchy = "created_at"
    fields = (
        "report",
        "recipients",
        "state",
        "attempts",
        "created_at",
        "due_at",
        "delivered_at",
        "last_status",
        "last_error",
        "message_id",
    )
    readonly_fields = fields
