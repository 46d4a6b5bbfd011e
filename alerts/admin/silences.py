"""Silences and maintenance windows in the operations console: list, create, expire now."""

from __future__ import annotations

from datetime import UTC
from typing import Any
from zoneinfo import ZoneInfo

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from alerts.api.views.silences import by_state
from alerts.models import MaintenanceWindow, Silence
from alerts.models.silences import State
from alerts.silences.services import (
    AlreadyExpired,
    check_services_exist,
    check_times,
    create_maintenance_window,
    create_silence,
    expire_maintenance_window,
    expire_silence,
    update_muting,
)
from monitoring_site.admin_roles import RoleHistoryAdmin, role_permission
from monitoring_site.api.params import format_duration
from monitoring_site.roles import Role


class StateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [
            (State.ACTIVE, "Active"),
            (State.PENDING, "Future (pending)"),
            (State.EXPIRED, "Expired"),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        state = self.value()
        if state is not None and state in State.values:
            return by_state(queryset, [state], timezone.now())
        return queryset


class _WindowForm(forms.ModelForm):
    """A new silence or window passes the API's checks (its end in the future, known services)."""

    def _post_clean(self) -> None:
        super()._post_clean()  # type: ignore[misc]  # the model's own checks, then the service's
        if self.instance.pk is not None or self.errors:
            return
        try:
            check_times(
                starts_at=self.instance.starts_at, ends_at=self.instance.ends_at, now=timezone.now()
            )
            if isinstance(self.instance, MaintenanceWindow):
                check_services_exist(self.instance.services)
        except ValidationError as exc:
            for field, problems in exc.message_dict.items():
                self.add_error(field if field in self.fields else None, problems)


class _WindowAdmin(RoleHistoryAdmin):
    form = _WindowForm
    list_filter = (StateFilter,)
    list_select_related = ("created_by",)
    date_hierarchy = "starts_at"
    actions = ["expire_now"]

    @admin.display(description="state")
    def state_text(self, row: Silence | MaintenanceWindow) -> str:
        return row.state(timezone.now())

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        fixed = ["created_by", "created_at", "expired_at", "expired_by"]
        return fixed if obj is None else [*fixed, "starts_at"]

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if change:
            update_muting(row=obj, user=request.user)
        else:
            _adopt(obj, self._create(obj, request))

    def _create(self, obj: Any, request: HttpRequest) -> Any:
        raise NotImplementedError

    def _expire_one(self, row: Any, request: HttpRequest) -> bool:
        raise NotImplementedError

    @admin.action(description="Expire now", permissions=["expire"])
    def expire_now(self, request: HttpRequest, queryset: QuerySet) -> None:
        done = skipped = 0
        for row in queryset:
            try:
                self._expire_one(row, request)
                done += 1
            except AlreadyExpired:
                skipped += 1
        self.message_user(
            request, f"{done} expired; {skipped} had already ended.", messages.SUCCESS
        )


def _adopt(obj: Any, created: Any) -> None:
    """Make the admin's unsaved ``obj`` the row the service created (the admin logs and
    redirects with it)."""
    for field in type(obj)._meta.concrete_fields:
        setattr(obj, field.attname, getattr(created, field.attname))
    obj._state.adding = False


@admin.register(Silence)
class SilenceAdmin(_WindowAdmin):
    """As the API: viewers read, operators silence and expire, admins also delete."""

    add_role = change_role = Role.OPERATOR
    has_expire_permission = role_permission(Role.OPERATOR)
    list_display = (
        "id",
        "matchers_text",
        "state_text",
        "starts_at",
        "ends_at",
        "created_by",
        "short_comment",
    )
    search_fields = ("comment", "created_by__username")
    fields = (
        "matchers",
        "starts_at",
        "ends_at",
        "comment",
        "created_by",
        "created_at",
        "expired_at",
        "expired_by",
    )

    @admin.display(description="matchers")
    def matchers_text(self, silence: Silence) -> str:
        return silence.matchers_text()

    @admin.display(description="comment")
    def short_comment(self, silence: Silence) -> str:
        return silence.comment[:120]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        # As in Alertmanager, a silence's matchers do not change: expire it and create another.
        fields = super().get_readonly_fields(request, obj)
        return fields if obj is None else [*fields, "matchers"]

    def _create(self, obj: Silence, request: HttpRequest) -> Silence:
        return create_silence(
            matchers=obj.matchers,
            starts_at=obj.starts_at,
            ends_at=obj.ends_at,
            comment=obj.comment,
            user=request.user,
        )

    def _expire_one(self, row: Silence, request: HttpRequest) -> bool:
        expire_silence(silence=row, user=request.user)
        return True


@admin.register(MaintenanceWindow)
class MaintenanceWindowAdmin(_WindowAdmin):
    """As the API: viewers read, admins schedule and expire maintenance windows."""

    has_expire_permission = role_permission(Role.ADMIN)
    list_display = (
        "name",
        "services_text",
        "state_text",
        "schedule_text",
        "next_occurrences_text",
        "starts_at",
        "ends_at",
        "created_by",
    )
    search_fields = ("name", "comment")
    fields = (
        "name",
        "services",
        "starts_at",
        "ends_at",
        "recurrence",
        "duration_seconds",
        "time_zone",
        "comment",
        "created_by",
        "created_at",
        "expired_at",
        "expired_by",
    )

    @admin.display(description="services")
    def services_text(self, window: MaintenanceWindow) -> str:
        return ", ".join(window.services)

    @admin.display(description="repeats")
    def schedule_text(self, window: MaintenanceWindow) -> str:
        if not window.is_recurring():
            return "once"
        hours = format_duration(window.duration_seconds or 0)
        return f"{window.recurrence} ({window.time_zone}) for {hours}"

    @admin.display(description="next occurrences")
    def next_occurrences_text(self, window: MaintenanceWindow) -> str:
        zone = ZoneInfo(window.time_zone or "UTC") if window.is_recurring() else UTC
        return "; ".join(
            f"{start.astimezone(zone):%a %Y-%m-%d %H:%M}-{end.astimezone(zone):%H:%M %Z}"
            for start, end in window.next_occurrences(timezone.now())
        )

    def _create(self, obj: MaintenanceWindow, request: HttpRequest) -> MaintenanceWindow:
        return create_maintenance_window(
            name=obj.name,
            services=obj.services,
            starts_at=obj.starts_at,
            ends_at=obj.ends_at,
            comment=obj.comment,
            user=request.user,
            recurrence=obj.recurrence,
            duration_seconds=obj.duration_seconds,
            time_zone=obj.time_zone,
        )

    def _expire_one(self, row: MaintenanceWindow, request: HttpRequest) -> bool:
        expire_maintenance_window(window=row, user=request.user)
        return True
