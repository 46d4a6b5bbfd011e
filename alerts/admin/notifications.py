"""Channels, escalation policies and the outbox in the operations console."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from alerts.channels.secrets import (
    all_secret_keys,
    mask,
    masked_config,
    public_config,
    secret_keys,
)
from alerts.models import (
    EscalationLevel,
    EscalationPolicy,
    Notification,
    NotificationAttempt,
    NotificationChannel,
)
from alerts.notifications.channel_check import check_channel
from alerts.notifications.services import disable_channel, save_channel
from monitoring_site.admin_roles import RoleAdmin, RoleHistoryAdmin, RoleInline, role_permission
from monitoring_site.humanize import datetime_text, duration_text
from monitoring_site.roles import Role

RECENT_ATTEMPTS = 20


def secret_field_name(kind: str, key: str) -> str:
    return f"{kind}_{key}"


def _secret_input(label: str) -> forms.CharField:
    return forms.CharField(
        label=label,
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
    )


class NotificationChannelForm(forms.ModelForm):
    """Settings as JSON without the secrets; each secret is a write-only field (blank: keep it).

    The configuration is then checked by the channel kind's own validation on save.
    """

    config = forms.JSONField(
        label="Settings",
        required=False,
        help_text=(
            'Everything but the secrets, e.g. {"to": ["ops@example.com"]} for email, '
            '{"channel": "#alerts"} for a Slack bot token, {"url": "https://..."} for a webhook.'
        ),
    )
    # One write-only field per secret of alerts.channels.secrets.all_secret_keys().
    slack_webhook_url = _secret_input("Slack webhook URL")
    slack_token = _secret_input("Slack bot token")
    pagerduty_routing_key = _secret_input("PagerDuty routing key")
    pagerduty_api_key = _secret_input("PagerDuty REST API key")
    webhook_secret = _secret_input("Webhook signing secret")

    class Meta:
        model = NotificationChannel
        fields = ["name", "kind", "enabled", "for_rule_kinds", "disabled_reason"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        stored = self._stored_config()
        # The admin names "config" among the form's fields: its initial value would be the model's.
        self.initial["config"] = public_config(stored)
        for kind, key in all_secret_keys():
            held = stored.get(key) if self.instance.kind == kind else None
            state = f"Stored: {mask(held)}. Leave blank to keep it." if held else "Not set."
            field = self.fields[secret_field_name(kind, key)]
            field.help_text = f"{state} Entering one replaces the channel's secrets."

    def _stored_config(self) -> dict[str, Any]:
        """The channel's settings as stored now (a history version shows masked ones)."""
        if self.instance.pk is None:
            return {}
        stored = NotificationChannel.objects.filter(pk=self.instance.pk).values_list(
            "config", flat=True
        )
        config = stored.first()
        return config if isinstance(config, dict) else {}

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        kind = cleaned.get("kind") or self.instance.kind
        settings = cleaned.get("config")
        if settings is None:
            settings = {}
        if not isinstance(settings, dict):
            self.add_error("config", "Expected a JSON object.")
            return cleaned
        self._refuse_misplaced_secrets(kind, settings)
        # The admin names "config" among the form's fields, so the model gets cleaned["config"].
        cleaned["config"] = {**public_config(settings), **self._secrets_for(kind)}
        self.instance.config = cleaned["config"]
        return cleaned

    def _refuse_misplaced_secrets(self, kind: str, settings: dict[str, Any]) -> None:
        for key in sorted(set(settings) - set(public_config(settings))):
            name = secret_field_name(kind, key)
            label = self.fields[name].label if name in self.fields else key
            self.add_error("config", f"{key} is a secret: enter it in the field {label!r}.")
        for other, key in all_secret_keys():
            name = secret_field_name(other, key)
            if other != kind and self.cleaned_data.get(name):
                self.add_error(name, f"This is a {other} secret; the channel is {kind}.")

    def _secrets_for(self, kind: str) -> dict[str, Any]:
        """The secrets entered now; none entered: the stored ones (when the kind is unchanged)."""
        given = {
            key: self.cleaned_data[secret_field_name(kind, key)]
            for key in secret_keys(kind)
            if self.cleaned_data.get(secret_field_name(kind, key))
        }
        if given:
            return given
        stored = self._stored_config() if self.instance.kind == kind else {}
        return {key: stored[key] for key in secret_keys(kind) if stored.get(key)}


CHANNEL_FIELDSETS = (
    (None, {"fields": ("name", "kind", "enabled", "for_rule_kinds", "disabled_reason")}),
    ("Settings", {"fields": ("config",)}),
    (
        "Secrets",
        {
            "fields": tuple(secret_field_name(kind, key) for kind, key in all_secret_keys()),
            "description": (
                "Secrets are write-only: they are never shown again, here or in the history. "
                "Fill in the one of the channel's kind to set or replace it."
            ),
        },
    ),
    (
        "Delivery",
        {
            "fields": (
                "last_sent_at",
                "failing_since",
                "last_error",
                "last_error_at",
                "paused",
            )
        },
    ),
    ("Recent attempts", {"fields": ("recent_attempts",)}),
)
READ_ONLY_FIELDSETS = (
    (None, {"fields": ("name", "kind", "enabled", "for_rule_kinds", "disabled_reason")}),
    ("Settings", {"fields": ("settings_masked",)}),
    *CHANNEL_FIELDSETS[3:],
)


@admin.register(NotificationChannel)
class NotificationChannelAdmin(RoleHistoryAdmin):
    """Only admins change channels (the admin is their only door); their secrets stay hidden."""

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
        "paused",
    )
    list_filter = ("kind", "enabled", "for_rule_kinds")
    search_fields = ("name", "last_error", "disabled_reason")
    readonly_fields = (
        "last_sent_at",
        "last_error",
        "last_error_at",
        "failing_since",
        "recent_attempts",
        "settings_masked",
        "paused",
    )
    history_list_display = ("settings_masked",)
    actions = ["check_channels", "disable"]

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        if self.has_change_permission(request, obj):
            return CHANNEL_FIELDSETS
        return READ_ONLY_FIELDSETS

    def save_model(
        self, request: HttpRequest, obj: NotificationChannel, form: Any, change: bool
    ) -> None:
        save_channel(channel=obj, user=request.user)

    @admin.display(description="settings")
    def settings_masked(self, channel: NotificationChannel) -> str:
        return json.dumps(masked_config(channel.config or {}), ensure_ascii=False, sort_keys=True)

    @admin.display(description="paused by the vendor")
    def paused(self, channel: NotificationChannel) -> str:
        """Until when, and why (the vendor's 429 or 503 with Retry-After); empty when not."""
        if not channel.is_paused(timezone.now()):
            return ""
        return f"until {datetime_text(channel.paused_until)}: {channel.pause_reason}"

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
                    datetime_text(a.at),
                    a.notification.kind,
                    a.get_outcome_display(),
                    a.status if a.status is not None else "",
                    a.receipt or a.error[:200],
                    duration_text(milliseconds=a.duration_ms),
                )
                for a in rows
            ),
        )
        return format_html(
            "<table><thead><tr><th>at</th><th>message</th><th>outcome</th><th>code</th>"
            "<th>receipt / error</th><th>took</th></tr></thead><tbody>{}</tbody></table>",
            body,
        )

    # As POST /api/alerts/test: admins only.
    has_check_channels_permission = role_permission(Role.ADMIN)

    @admin.action(
        description="Check the selected channels (one test message each, sent now)",
        permissions=["check_channels"],
    )
    def check_channels(self, request: HttpRequest, queryset: QuerySet[NotificationChannel]) -> None:
        for channel in queryset.order_by("name"):
            outcome = check_channel(channel)
            level = messages.SUCCESS if outcome.delivered else messages.ERROR
            self.message_user(request, outcome.line(), level)

    @admin.action(description="Disable the selected channels", permissions=["change"])
    def disable(self, request: HttpRequest, queryset: QuerySet[NotificationChannel]) -> None:
        reason = f"disabled by {request.user.get_username()} in the admin"
        count = sum(
            disable_channel(channel=channel, user=request.user, reason=reason)
            for channel in queryset.order_by("pk")
        )
        self.message_user(request, f"{count} channel(s) disabled.", messages.SUCCESS)


class EscalationLevelInline(RoleInline, admin.TabularInline):
    model = EscalationLevel
    extra = 0
    fields = ("position", "name", "wait_minutes", "channels")
    filter_horizontal = ("channels",)
    ordering = ("position",)


@admin.register(EscalationPolicy)
class EscalationPolicyAdmin(RoleHistoryAdmin):
    """Viewers read policies; admins write them."""

    list_display = ("name", "levels_text", "updated_at")
    search_fields = ("name", "description")
    inlines = [EscalationLevelInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[EscalationPolicy]:
        return super().get_queryset(request).prefetch_related("levels")

    @admin.display(description="levels")
    def levels_text(self, policy: EscalationPolicy) -> str:
        levels = sorted(policy.levels.all(), key=lambda level: level.position)
        return " → ".join(f"{level.name} ({level.wait_minutes} min)" for level in levels)


class NotificationAttemptInline(RoleInline, admin.TabularInline):
    model = NotificationAttempt
    fk_name = "notification"
    extra = 0
    can_delete = False
    fields = ("at", "outcome", "status", "error", "receipt", "took", "retry_at")
    readonly_fields = fields
    add_role = change_role = delete_role = None

    @admin.display(description="took")
    def took(self, attempt: NotificationAttempt) -> str:
        return duration_text(milliseconds=attempt.duration_ms)


@admin.register(Notification)
class NotificationAdmin(RoleAdmin):
    """The outbox, read-only: what was sent where, and how each attempt went.

    Admins may delete rows (deleting a channel deletes its outbox rows with it).
    """

    add_role = change_role = None

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
        return [field.name for field in Notification._meta.fields] + ["idempotency_key"]

    @admin.display(description="idempotency key")
    def idempotency_key(self, row: Notification) -> str:
        """What every send of this row carries (webhook header and body, email Message-ID)."""
        return row.idempotency_key if row.pk else ""
