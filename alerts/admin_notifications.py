"""Channels, escalation policies and the outbox in the operations console."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join
from simple_history.admin import SimpleHistoryAdmin

from alerts.models import (
    EscalationLevel,
    EscalationPolicy,
    Notification,
    NotificationAttempt,
    NotificationChannel,
)
from alerts.notifications.testing import send_channel_test

RECENT_ATTEMPTS = 20


class NotificationChannelForm(forms.ModelForm):
    """The configuration is checked by the channel kind's own validation on save."""

    class Meta:
        model = NotificationChannel
        fields = ["name", "kind", "enabled", "for_rule_kinds", "config", "disabled_reason"]


@admin.register(NotificationChannel)
class NotificationChannelAdmin(SimpleHistoryAdmin):
    form = NotificationChannelForm
    list_display = (
        "name",
        "kind",
        "enabled",
        "for_rule_kinds",
        "last_sent_at",
        "failing_since",
        "short_error",
        "last_error_at",
    )
    list_filter = ("kind", "enabled", "for_rule_kinds")
    search_fields = ("name", "last_error", "disabled_reason")
    readonly_fields = (
        "last_sent_at",
        "last_error",
        "last_error_at",
        "failing_since",
        "recent_attempts",
    )
    actions = ["send_test", "disable"]

    @admin.display(description="last error")
    def short_error(self, channel: NotificationChannel) -> str:
        return channel.last_error[:120]

    @admin.display(description=f"recent attempts (last {RECENT_ATTEMPTS})")
    def recent_attempts(self, channel: NotificationChannel) -> str:
        if channel.pk is None:
            return "-"
        rows = NotificationAttempt.objects.filter(channel=channel).select_related("notification")[
            :RECENT_ATTEMPTS
        ]
        if not rows:
            return "No attempts yet."
        body = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    f"{a.at:%Y-%m-%d %H:%M:%S}",
                    a.notification.kind,
                    a.get_outcome_display(),
                    a.status if a.status is not None else "",
                    a.receipt or a.error[:200],
                    f"{a.duration_ms:.0f} ms",
                )
                for a in rows
            ),
        )
        return format_html(
            "<table><thead><tr><th>at</th><th>message</th><th>outcome</th><th>code</th>"
            "<th>receipt / error</th><th>took</th></tr></thead><tbody>{}</tbody></table>",
            body,
        )

    @admin.action(description="Send a test message through the selected channels")
    def send_test(self, request: HttpRequest, queryset: QuerySet[NotificationChannel]) -> None:
        for channel in queryset.order_by("name"):
            outcome = send_channel_test(channel)
            level = messages.SUCCESS if outcome.delivered else messages.ERROR
            self.message_user(request, outcome.line(), level)

    @admin.action(description="Disable the selected channels")
    def disable(self, request: HttpRequest, queryset: QuerySet[NotificationChannel]) -> None:
        reason = f"disabled by {request.user.get_username()} in the admin"
        count = 0
        for channel in queryset.filter(enabled=True):
            channel.enabled = False
            channel.disabled_reason = reason
            # simple_history (no type stubs) reads this attribute for the history row.
            channel._change_reason = reason  # type: ignore[attr-defined]
            channel.save()
            count += 1
        self.message_user(request, f"{count} channel(s) disabled.", messages.SUCCESS)


class EscalationLevelInline(admin.TabularInline):
    model = EscalationLevel
    extra = 0
    fields = ("position", "name", "wait_minutes", "channels")
    filter_horizontal = ("channels",)
    ordering = ("position",)


@admin.register(EscalationPolicy)
class EscalationPolicyAdmin(SimpleHistoryAdmin):
    list_display = ("name", "levels_text", "updated_at")
    search_fields = ("name", "description")
    inlines = [EscalationLevelInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[EscalationPolicy]:
        return super().get_queryset(request).prefetch_related("levels")

    @admin.display(description="levels")
    def levels_text(self, policy: EscalationPolicy) -> str:
        levels = sorted(policy.levels.all(), key=lambda level: level.position)
        return " → ".join(f"{level.name} ({level.wait_minutes} min)" for level in levels)


class NotificationAttemptInline(admin.TabularInline):
    model = NotificationAttempt
    fk_name = "notification"
    extra = 0
    can_delete = False
    fields = ("at", "outcome", "status", "error", "receipt", "duration_ms", "retry_at")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    """The outbox, read-only: what was sent where, and how each attempt went."""

    list_display = (
        "id",
        "alert",
        "channel",
        "kind",
        "escalation_level",
        "state",
        "attempts",
        "created_at",
        "delivered_at",
        "due_at",
    )
    list_filter = ("state", "kind", "channel")
    list_select_related = ("alert", "channel")
    search_fields = ("alert__rule_name", "last_error")
    date_hierarchy = "created_at"
    inlines = [NotificationAttemptInline]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [field.name for field in Notification._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
