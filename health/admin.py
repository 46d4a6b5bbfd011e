from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from simple_history.admin import SimpleHistoryAdmin

from health.models import ROUND_FIELDS, CheckResult, Service, StateChange, UptimeHour
from health.probes import PROBES
from health.probes.base import redact
from health.services import run_round


class ServiceForm(forms.ModelForm):
    """The target is checked as the API checks it: its form for the kind, and the address.

    No Meta: the admin builds the form's fields from its own options on top of this class.
    """

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        kind, target = data.get("kind"), data.get("target")
        if kind in PROBES and target:
            try:
                data["target"] = PROBES[kind].validate_target(target)
            except ValueError as exc:
                self.add_error("target", f"Invalid target: {exc}.")
        return data


@admin.register(Service)
class ServiceAdmin(SimpleHistoryAdmin):
    form = ServiceForm
    list_display = (
        "name",
        "slug",
        "kind",
        "state",
        "state_since",
        "critical",
        "enabled",
        "last_latency_ms",
        "last_checked_at",
        "short_error",
    )
    list_filter = ("state", "kind", "critical", "enabled")
    search_fields = ("slug", "name", "target")
    filter_horizontal = ("depends_on",)
    readonly_fields = ROUND_FIELDS
    actions = ("run_round_now", "enable", "disable")

    @admin.display(description="last error")
    def short_error(self, obj: Service) -> str:
        return redact(obj.last_error)[:120]

    @admin.action(description="Run a health round now")
    def run_round_now(self, request: HttpRequest, queryset: QuerySet[Service]) -> None:
        report = run_round()
        self.message_user(
            request,
            f"Round done: {len(report.results)} services in {report.duration_ms:.0f} ms, "
            f"{len(report.changes)} state changes.",
            messages.SUCCESS,
        )

    @admin.action(description="Enable the selected services")
    def enable(self, request: HttpRequest, queryset: QuerySet[Service]) -> None:
        for service in queryset:
            service.enabled = True
            service.save(update_fields=["enabled", "updated_at"])

    @admin.action(description="Disable the selected services")
    def disable(self, request: HttpRequest, queryset: QuerySet[Service]) -> None:
        for service in queryset:
            service.enabled = False
            service.save(update_fields=["enabled", "updated_at"])


class _ReadOnly(admin.ModelAdmin):
    list_select_related = ("service",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(CheckResult)
class CheckResultAdmin(_ReadOnly):
    list_display = ("service", "checked_at", "outcome", "status_code", "latency_ms", "error")
    list_filter = ("outcome", "service")
    date_hierarchy = "checked_at"
    search_fields = ("service__slug", "error")


@admin.register(StateChange)
class StateChangeAdmin(_ReadOnly):
    list_display = ("service", "at", "from_state", "to_state", "cause", "impacted_by")
    list_filter = ("to_state", "service")
    date_hierarchy = "at"
    search_fields = ("service__slug", "cause")


@admin.register(UptimeHour)
class UptimeHourAdmin(_ReadOnly):
    list_display = ("service", "hour", "checks", "up", "degraded", "down")
    list_filter = ("service",)
    date_hierarchy = "hour"
