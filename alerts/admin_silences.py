"""Silences and maintenance windows in the operations console: list, create, expire now."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from simple_history.admin import SimpleHistoryAdmin

from alerts.api.silence_views import by_state
from alerts.models import MaintenanceWindow, Silence
from alerts.models.silences import State
from alerts.silences import (
    AlreadyExpired,
    maintenance_window_expire,
    release_held,
    silence_expire,
)


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


class _WindowAdmin(SimpleHistoryAdmin):
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
        if not change:
            obj.created_by = request.user
            obj.created_at = timezone.now()
            obj.starts_at = max(obj.starts_at, obj.created_at)
        super().save_model(request, obj, form, change)
        if change:  # an earlier end releases escalations held until the planned one
            release_held(obj, now=timezone.now())

    def _expire_one(self, row: Any, request: HttpRequest) -> bool:
        raise NotImplementedError

    @admin.action(description="Expire now", permissions=["change"])
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


@admin.register(Silence)
class SilenceAdmin(_WindowAdmin):
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

    def _expire_one(self, row: Silence, request: HttpRequest) -> bool:
        silence_expire(silence=row, user=request.user)
        return True


@admin.register(MaintenanceWindow)
class MaintenanceWindowAdmin(_WindowAdmin):
    list_display = ("name", "services_text", "state_text", "starts_at", "ends_at", "created_by")
    search_fields = ("name", "comment")
    fields = (
        "name",
        "services",
        "starts_at",
        "ends_at",
        "comment",
        "created_by",
        "created_at",
        "expired_at",
        "expired_by",
    )

    @admin.display(description="services")
    def services_text(self, window: MaintenanceWindow) -> str:
        return ", ".join(window.services)

    def _expire_one(self, row: MaintenanceWindow, request: HttpRequest) -> bool:
        maintenance_window_expire(window=row, user=request.user)
        return True
