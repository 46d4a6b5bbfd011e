"""Alerts and evaluation cycles in the operations console."""

from __future__ import annotations

import logging
from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from alerts.models import Alert, AlertEvent, EvaluationCycle
from alerts.models.rules import format_number
from alerts.services import InvalidTransition, acknowledge_alert, resolve_alert
from monitoring_site.admin_roles import RoleAdmin, RoleInline, role_permission
from monitoring_site.humanize import duration_text
from monitoring_site.roles import Role

logger = logging.getLogger(__name__)


class AlertEventInline(RoleInline, admin.TabularInline):
    model = AlertEvent
    extra = 0
    can_delete = False
    fields = ("at", "kind", "actor", "details")
    readonly_fields = fields
    ordering = ("at", "pk")
    add_role = change_role = delete_role = None


@admin.register(Alert)
class AlertAdmin(RoleAdmin):
    """Read-only: alerts change through the actions (which call the lifecycle services)."""

    add_role = change_role = delete_role = None

    list_display = (
        "id",
        "rule_name",
        "state",
        "severity",
        "source",
        "labels_text",
        "value_text",
        "started_at",
        "acknowledged_by_name",
        "resolved_at",
    )
    list_filter = ("state", "severity", "source", "rule")
    search_fields = ("rule_name", "fingerprint", "summary")
    list_select_related = ("rule",)
    date_hierarchy = "started_at"
    inlines = [AlertEventInline]
    actions = ["acknowledge", "resolve"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [field.name for field in Alert._meta.fields]

    # As the API: operators acknowledge and resolve.
    has_acknowledge_permission = role_permission(Role.OPERATOR)

    @admin.display(description="labels")
    def labels_text(self, alert: Alert) -> str:
        return ", ".join(f"{k}={v}" for k, v in sorted(alert.labels.items()))[:160]

    @admin.display(description="value")
    def value_text(self, alert: Alert) -> str:
        return format_number(alert.value)

    @admin.action(description="Acknowledge the selected firing alerts", permissions=["acknowledge"])
    def acknowledge(self, request: HttpRequest, queryset: QuerySet[Alert]) -> None:
        self._apply(request, queryset, acknowledge_alert, "acknowledged")

    @admin.action(description="Resolve the selected alerts", permissions=["acknowledge"])
    def resolve(self, request: HttpRequest, queryset: QuerySet[Alert]) -> None:
        self._apply(request, queryset, resolve_alert, "resolved")

    def _apply(
        self, request: HttpRequest, queryset: QuerySet[Alert], change: Any, verb: str
    ) -> None:
        done, refused = 0, []
        for alert in queryset.order_by("pk"):
            try:
                change(alert=alert, user=request.user)
                done += 1
            except InvalidTransition as exc:
                refused.append(f"#{alert.pk} ({exc.state})")
        if done:
            self.message_user(request, f"{done} alert(s) {verb}.", messages.SUCCESS)
        if refused:
            self.message_user(request, f"Not {verb}: {', '.join(refused)}.", messages.WARNING)


@admin.register(EvaluationCycle)
class EvaluationCycleAdmin(RoleAdmin):
    """Written by the engine: read-only (admins may delete, as retention does)."""

    add_role = change_role = None
    list_display = (
        "started_at",
        "reason",
        "duration",
        "lag",
        "rules",
        "errors",
        "changes",
        "skipped",
        "host",
    )
    list_filter = ("skipped", "reason")
    date_hierarchy = "started_at"

    fields = (
        ("started_at", "scheduled_for", "finished_at"),
        ("duration", "lag"),
        ("rules", "errors", "changes", "skipped"),
        "reason",
        "error",
        ("host", "pid"),
    )
    readonly_fields = (
        "started_at",
        "scheduled_for",
        "finished_at",
        "duration",
        "lag",
        "rules",
        "errors",
        "changes",
        "skipped",
        "reason",
        "error",
        "host",
        "pid",
    )

    @admin.display(description="duration", ordering="duration_ms")
    def duration(self, cycle: EvaluationCycle) -> str:
        return duration_text(milliseconds=cycle.duration_ms)

    @admin.display(description="lag", ordering="lag_ms")
    def lag(self, cycle: EvaluationCycle) -> str:
        return duration_text(milliseconds=cycle.lag_ms)
