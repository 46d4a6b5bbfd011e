"""The service registry in the operations console, checked and written as the API does."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from health.api.serializers import ServiceSerializer
from health.models import ROUND_FIELDS, CheckResult, Service, StateChange, UptimeHour
from health.probes.base import redact
from health.services import delete_service, run_round, save_service, set_service_enabled
from monitoring_site.admin_roles import RoleAdmin, RoleHistoryAdmin, role_permission
from monitoring_site.humanize import duration_text
from monitoring_site.roles import Role

HIDDEN = "***"
SERVICE_FIELDS = (
    "slug",
    "name",
    "kind",
    "target",
    "health_path",
    "timeout",
    "expected_status",
    "critical",
    "depends_on",
    "enabled",
    "failure_threshold",
    "success_threshold",
    "tags",
)


class ServiceForm(forms.ModelForm):
    """The API's checks (target per kind, ranges, no dependency cycle); a DSN's password hidden.

    A target holding a password is shown with ``***`` in its place: left as shown, the stored
    target is kept; any other target is taken as typed, so a new one must be given whole.
    """

    class Meta:
        model = Service
        fields = list(SERVICE_FIELDS)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None and "target" in self.fields:
            self.initial["target"] = redact(self._stored_target())
            self.fields["target"].help_text += f" A password is shown as {HIDDEN}."

    def _stored_target(self) -> str:
        """The target as stored now (a history version holds a masked one)."""
        stored = Service.objects.filter(pk=self.instance.pk).values_list("target", flat=True)
        return stored.first() or ""

    def clean_target(self) -> str:
        target = self.cleaned_data["target"].strip()
        stored = self._stored_target() if self.instance.pk is not None else ""
        if stored and target == redact(stored):
            return stored
        if HIDDEN in target:
            raise forms.ValidationError(
                f"Give the whole target with its password, or leave the shown one unchanged "
                f"({HIDDEN} stands for the stored password)."
            )
        return target

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        if self.errors:
            return cleaned

        data = {name: cleaned[name] for name in SERVICE_FIELDS if name in cleaned}
        data["depends_on"] = [service.slug for service in cleaned.get("depends_on") or []]
        instance = self.instance if self.instance.pk is not None else None
        checked = ServiceSerializer(instance=instance, data=data)
        if checked.is_valid():
            cleaned["target"] = self.instance.target = checked.validated_data["target"]
            return cleaned
        for field, problems in checked.errors.items():
            target = field if field in self.fields else None
            for problem in problems if isinstance(problems, list) else [problems]:
                self.add_error(target, str(problem))
        return cleaned


@admin.register(Service)
class ServiceAdmin(RoleHistoryAdmin):
    """Viewers read, operators run a round (as the API), admins change the registry."""

    form = ServiceForm
    list_display = (
        "name",
        "slug",
        "kind",
        "state",
        "state_since",
        "critical",
        "enabled",
        "latency",
        "last_checked_at",
        "short_error",
    )
    list_filter = ("state", "kind", "critical", "enabled")
    # Not the target: searching it would let a reader guess a DSN's password letter by letter.
    search_fields = ("slug", "name")
    filter_horizontal = ("depends_on",)
    readonly_fields = (*ROUND_FIELDS, "target_shown", "latency")
    actions = ("run_round_now", "enable", "disable")

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        shown = ["target_shown" if name == "target" else name for name in SERVICE_FIELDS]
        fields = list(SERVICE_FIELDS) if self.has_change_permission(request, obj) else shown
        return [*fields, *ROUND_FIELDS] if obj is not None else fields

    def save_model(self, request: HttpRequest, obj: Service, form: Any, change: bool) -> None:
        save_service(
            service=obj, user=request.user, dependencies=form.cleaned_data.get("depends_on")
        )

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        for formset in formsets:  # the dependencies were set by save_service
            self.save_formset(request, form, formset, change=change)

    def delete_model(self, request: HttpRequest, obj: Service) -> None:
        delete_service(service=obj, user=request.user)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Service]) -> None:
        for service in queryset.order_by("pk"):
            delete_service(service=service, user=request.user)

    @admin.display(description="target")
    def target_shown(self, obj: Service) -> str:
        return redact(obj.target)

    @admin.display(description="latency", ordering="last_latency_ms")
    def latency(self, obj: Service) -> str:
        return duration_text(milliseconds=obj.last_latency_ms)

    @admin.display(description="last error")
    def short_error(self, obj: Service) -> str:
        return redact(obj.last_error)[:120]

    # As POST /api/v1/monitoring/health/check: operators may run a round.
    has_run_round_permission = role_permission(Role.OPERATOR)

    @admin.action(description="Run a health round now", permissions=["run_round"])
    def run_round_now(self, request: HttpRequest, queryset: QuerySet[Service]) -> None:
        report = run_round()
        self.message_user(
            request,
            f"Round done: {len(report.results)} services in "
            f"{duration_text(milliseconds=report.duration_ms)}, "
            f"{len(report.changes)} state changes.",
            messages.SUCCESS,
        )

    @admin.action(description="Enable the selected services", permissions=["change"])
    def enable(self, request: HttpRequest, queryset: QuerySet[Service]) -> None:
        self._set_enabled(request, queryset, enabled=True)

    @admin.action(description="Disable the selected services", permissions=["change"])
    def disable(self, request: HttpRequest, queryset: QuerySet[Service]) -> None:
        self._set_enabled(request, queryset, enabled=False)

    def _set_enabled(self, request: HttpRequest, queryset: QuerySet, *, enabled: bool) -> None:
        changed = sum(
            set_service_enabled(service=service, enabled=enabled, user=request.user)
            for service in queryset.order_by("pk")
        )
        verb = "enabled" if enabled else "disabled"
        self.message_user(request, f"{changed} service(s) {verb}.", messages.SUCCESS)


class _ReadOnly(RoleAdmin):
    """Written by the rounds: read-only (admins may delete, with the service or by hand)."""

    add_role = change_role = None
    list_select_related = ("service",)


@admin.register(CheckResult)
class CheckResultAdmin(_ReadOnly):
    list_display = ("service", "checked_at", "outcome", "status_code", "latency", "error")
    list_filter = ("outcome", "service")
    date_hierarchy = "checked_at"
    search_fields = ("service__slug", "error")
    fields = ("service", "checked_at", "outcome", "status_code", "latency", "error", "details")
    readonly_fields = fields

    @admin.display(description="latency", ordering="latency_ms")
    def latency(self, obj: CheckResult) -> str:
        return duration_text(milliseconds=obj.latency_ms)


@admin.register(StateChange)
class StateChangeAdmin(_ReadOnly):
    list_display = ("service", "at", "from_state", "to_state", "cause", "impacted_by")
    list_filter = ("to_state", "service")
    date_hierarchy = "at"
    search_fields = ("service__slug", "cause")


@admin.register(UptimeHour)
class UptimeHourAdmin(_ReadOnly):
    list_display = ("service", "hour", "checks", "up", "degraded", "down", "average_latency")
    list_filter = ("service",)
    date_hierarchy = "hour"

    @admin.display(description="average latency")
    def average_latency(self, obj: UptimeHour) -> str:
        if not obj.latency_count:
            return duration_text(milliseconds=None)
        return duration_text(milliseconds=obj.latency_sum_ms / obj.latency_count)
