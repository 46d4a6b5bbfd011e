"""Rules in the operations console: the form that checks them, their list and history."""

from __future__ import annotations

import logging
from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.utils import timezone

from alerts.engine.cycle import evaluate_rules
from alerts.engine.lifecycle import samples_of
from alerts.language import RuleError, check
from alerts.models import Rule
from alerts.models.rules import format_number
from alerts.rules.services import delete_rule, save_rule
from alerts.rules.testing.runner import render_result, run_test_file
from alerts.rules.testing.spec import SpecError, read_test_file
from alerts.rules.validation import rule_problems
from monitoring_site.admin_roles import RoleHistoryAdmin, role_permission
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
    actions = ["test_rules"]

    has_test_permission = role_permission(Role.OPERATOR)  # as POST .../alerts/rules/test

    @admin.action(description="Test the selected rules (rule test file)", permissions=["test"])
    def test_rules(self, request: HttpRequest, queryset: QuerySet[Rule]) -> TemplateResponse:
        """A form holding a rule test file for the selected rules; submitted, it runs it."""
        rules = [rule for rule in queryset.order_by("name") if not rule.builtin]
        context: dict[str, Any] = {
            **self.admin_site.each_context(request),
            "title": "Test rules",
            "rules": [rule.slug for rule in rules],
            "selected": [rule.pk for rule in queryset],
            "content": request.POST.get("content") or starter_file(rules),
        }
        if request.POST.get("run"):
            context.update(_run(context["content"]))
        return TemplateResponse(request, "alerts/admin/rule_test.html", context)

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


def _run(content: str) -> dict[str, Any]:
    """The outcome shown under the form: the report, or the file's problem and its line."""
    try:
        test_file = read_test_file(content, name="form")
    except SpecError as exc:
        return {"error": exc.where("form")}
    result = run_test_file(test_file)
    return {"output": render_result(result), "passed": result.passed}


def starter_file(rules: list[Rule]) -> str:
    """A test file to start from: the rules by slug, one test per rule to fill in."""
    lines = ["rules: [" + ", ".join(rule.slug for rule in rules) + "]", "", "tests:"]
    for rule in rules:
        lines += [
            f"  - name: {rule.slug} fires",
            "    interval: 1m",
            "    input_series:",
            f"      - series: '{_first_metric(rule)}'",
            "        values: '0+10x30'",
            "    alert_rule_test:",
            "      - eval_time: 10m",
            f"        alertname: {rule.slug}",
            "        exp_alerts:",
            "          - exp_labels: {}",
        ]
    return "\n".join(lines) + "\n"


def _first_metric(rule: Rule) -> str:
    try:
        metrics = check(rule.expression).metrics
    except RuleError:
        return "METRIC"
    name = metrics[0] if metrics else "METRIC"
    for suffix in ("_bucket", "_count", "_sum"):
        if name.endswith(suffix):
            return name.removesuffix(suffix)
    return name
