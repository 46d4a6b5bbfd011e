"""The alert engine in the operations console: rules (with history), alerts, evaluation cycles."""

from __future__ import annotations

import logging
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from alerts.engine import samples_of
from alerts.models import Alert, AlertEvent, EvaluationCycle, Rule
from alerts.models.rules import format_number
from alerts.services import (
    InvalidTransition,
    acknowledge_alert,
    delete_rule,
    resolve_alert,
    save_rule,
)
from alerts.validation import rule_problems
from monitoring_site.admin_roles import RoleAdmin, RoleHistoryAdmin, RoleInline, role_permission
from monitoring_site.humanize import duration_text
from monitoring_site.roles import Role

logger = logging.getLogger(__name__)


class RuleForm(forms.ModelForm):
    """Checks the expression (shown with its position), durations, placeholders and channels."""

    class Meta:
        model = Rule
        fields = [
            "name",
            "slug",
            "description",
            "enabled",
            "expression",
            "operator",
            "threshold",
            "no_data",
            "min_volume_expression",
            "min_volume",
            "for_seconds",
            "keep_firing_for_seconds",
            "cooldown_seconds",
            "severity",
            "labels",
            "annotations",
            "channels",
            "notification_channels",
            "escalation_policy",
        ]

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        values = {field.name: getattr(self.instance, field.name) for field in Rule._meta.fields}
        values.update(cleaned)
        for field, problems in rule_problems(values, builtin=self.instance.builtin).items():
            target = field if field in self.fields else None
            for problem in problems:
                self.add_error(target, problem)
        return cleaned


@admin.register(Rule)
class RuleAdmin(RoleHistoryAdmin):
    """Viewers read rules; admins write them, through the same services as the API."""

    form = RuleForm
    list_display = (
        "name",
        "severity",
        "enabled",
        "condition_text",
        "current_value",
        "short_error",
        "last_evaluated_at",
    )
    list_filter = ("severity", "enabled", "builtin", "no_data")
    search_fields = ("name", "slug", "expression", "description")
    readonly_fields = (
        "builtin",
        "version",
        "last_evaluated_at",
        "last_value",
        "last_error",
        "last_error_at",
    )
    fieldsets = (
        (None, {"fields": ("name", "slug", "description", "enabled", "builtin", "version")}),
        ("Condition", {"fields": ("expression", "operator", "threshold", "no_data")}),
        ("Volume guard", {"fields": ("min_volume_expression", "min_volume")}),
        (
            "Timing",
            {"fields": ("for_seconds", "keep_firing_for_seconds", "cooldown_seconds")},
        ),
        ("Alert", {"fields": ("severity", "labels", "annotations")}),
        (
            "Notification",
            {
                "fields": ("notification_channels", "channels", "escalation_policy"),
                "description": (
                    "The rule reaches its channels plus every enabled channel of the kinds "
                    "listed (those reached by rules naming their kind); without a policy of "
                    "its own it follows the policy of its severity (Critical, Error)."
                ),
            },
        ),
        (
            "Last evaluation",
            {"fields": ("last_evaluated_at", "last_value", "last_error", "last_error_at")},
        ),
    )
    filter_horizontal = ("notification_channels",)
    autocomplete_fields = ("escalation_policy",)
    history_list_display = ("expression", "threshold", "enabled", "escalation_policy")

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and obj.builtin:  # as the API: disable it instead
            return False
        return super().has_delete_permission(request, obj)

    def save_model(self, request: HttpRequest, obj: Rule, form: Any, change: bool) -> None:
        channels = form.cleaned_data.get("notification_channels")
        save_rule(rule=obj, user=request.user, channels=channels)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        for formset in formsets:  # the channels were set by save_rule
            self.save_formset(request, form, formset, change=change)

    def delete_model(self, request: HttpRequest, obj: Rule) -> None:
        delete_rule(rule=obj, user=request.user)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Rule]) -> None:
        for rule in queryset.order_by("pk"):
            delete_rule(rule=rule, user=request.user)

    def get_changelist_instance(self, request: HttpRequest) -> Any:
        changelist = super().get_changelist_instance(request)
        _attach_current_values(list(changelist.result_list))
        return changelist

    @admin.display(description="condition")
    def condition_text(self, rule: Rule) -> str:
        if rule.builtin:
            return "health: a critical service is down"
        return rule.condition()[:160]

    @admin.display(description="current value")
    def current_value(self, rule: Rule) -> str:
        return getattr(rule, "current_value_text", None) or format_number(rule.last_value)

    @admin.display(description="last error")
    def short_error(self, rule: Rule) -> str:
        return rule.last_error[:120]


def _attach_current_values(rules: list[Rule]) -> None:
    """Evaluate the listed rules now, in one pass of the evaluator, for the list's column."""
    from alerts.engine import evaluate_rules

    live = [rule for rule in rules if not rule.builtin and rule.expression]
    try:
        results = evaluate_rules(live, now=timezone.now())
    except Exception:  # the list must still open when the evaluator cannot run
        logger.exception("current values unavailable")
        return
    for rule, (result, _guard) in zip(live, results, strict=True):
        rule.current_value_text = _describe_result(result)


def _describe_result(result: Any) -> str:
    if isinstance(result, Exception):
        return f"error: {getattr(result, 'message', '') or result}"[:120]
    samples = samples_of(result)
    if not samples:
        return "no data"
    if len(samples) == 1:
        return format_number(samples[0][1])
    top = max(value for _, value in samples)
    return f"{len(samples)} series, max {format_number(top)}"


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
        "duration",
        "lag",
        "rules",
        "errors",
        "changes",
        "skipped",
        "host",
    )
    list_filter = ("skipped",)
    date_hierarchy = "started_at"

    fields = (
        ("started_at", "scheduled_for", "finished_at"),
        ("duration", "lag"),
        ("rules", "errors", "changes", "skipped"),
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


from alerts import admin_notifications, admin_silences  # noqa: E402,F401 (notifications, silences)
