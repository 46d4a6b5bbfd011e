"""Rules: an expression of the rule language compared with a threshold, and how to alert on it."""

from __future__ import annotations

import math
import re
from datetime import timedelta
from typing import Any

from django.db import models
from django.utils.text import slugify
from simple_history.models import HistoricalRecords

from alerts.channels import CHANNEL_KINDS  # a rule may name kinds: every enabled channel of one
from alerts.severity import Severity
from monitoring_site.humanize import format_number

PLACEHOLDER_RE = re.compile(r"\{([^{}]*)\}")
LABEL_PLACEHOLDER_RE = re.compile(r"^labels\.([a-zA-Z_][a-zA-Z0-9_]*)\Z")
ANNOTATION_KEYS = ("summary", "description")
# Written by the engine on every cycle: kept out of the edit history (they are not edits).
RUNTIME_FIELDS = (
    "last_evaluated_at",
    "last_value",
    "last_sample_count",
    "last_error",
    "last_error_at",
)


class Rule(models.Model):
    """An alerting rule: ``expression operator threshold``, held ``for`` before it fires."""

    class Operator(models.TextChoices):
        GT = ">", ">"
        GE = ">=", ">="
        LT = "<", "<"
        LE = "<=", "<="
        EQ = "==", "=="
        NE = "!=", "!="

    Severity = Severity  # the one vocabulary (alerts/severity.py), reachable as Rule.Severity

    class NoData(models.TextChoices):
        OK = "ok", "ok (the condition is false)"
        KEEP_STATE = "keep_state", "keep state (change nothing)"
        ALERTING = "alerting", "alerting (the condition is true)"

    name = models.CharField(max_length=200, unique=True)
    slug = models.SlugField(max_length=200, unique=True, blank=True)
    description = models.TextField(blank=True)
    expression = models.TextField(
        blank=True, help_text="Rule language expression, e.g. sum(rate(errors_total[5m]))."
    )
    operator = models.CharField(max_length=2, choices=Operator.choices, default=Operator.GT)
    threshold = models.FloatField(default=0.0)
    for_seconds = models.PositiveIntegerField(
        "for (seconds)", default=120, help_text="How long the condition holds before it fires."
    )
    keep_firing_for_seconds = models.PositiveIntegerField(
        "keep firing for (seconds)",
        default=0,
        help_text="How long the condition must stay false before the alert resolves.",
    )
    cooldown_seconds = models.PositiveIntegerField(
        "cooldown (seconds)",
        default=0,
        help_text="Minimum time between two notifications of the same alert, across re-fires.",
    )
    severity = models.CharField(max_length=10, choices=Severity.choices, default=Severity.WARNING)
    labels = models.JSONField(default=dict, blank=True, help_text="Added to every alert.")
    annotations = models.JSONField(
        default=dict,
        blank=True,
        help_text="summary and description; placeholders {value}, {threshold}, {labels.NAME}.",
    )
    channels = models.JSONField(
        "channel kinds",
        default=list,
        blank=True,
        help_text=(
            f"Shorthand: every enabled channel of these kinds ({', '.join(CHANNEL_KINDS)}) "
            "that is reached by rules naming its kind."
        ),
    )
    notification_channels = models.ManyToManyField(
        "alerts.NotificationChannel",
        blank=True,
        related_name="rules",
        help_text="Channels notified when the rule fires, besides those named by kind.",
    )
    escalation_policy = models.ForeignKey(
        "alerts.EscalationPolicy",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="rules",
        help_text="Empty: the policy of the rule's severity (Critical, Error) if there is one.",
    )
    no_data = models.CharField(max_length=10, choices=NoData.choices, default=NoData.OK)
    min_volume_expression = models.TextField(
        blank=True, help_text="Volume guard: the rule fires only while this is at least min_volume."
    )
    min_volume = models.FloatField(null=True, blank=True)
    enabled = models.BooleanField(default=True)
    builtin = models.BooleanField(
        default=False, editable=False, help_text="Raised by the engine itself (service_down)."
    )
    version = models.PositiveIntegerField(default=1, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    last_evaluated_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_value = models.FloatField(null=True, blank=True, editable=False)
    last_sample_count = models.IntegerField(null=True, blank=True, editable=False)
    last_error = models.TextField(blank=True, editable=False)
    last_error_at = models.DateTimeField(null=True, blank=True, editable=False)

    history = HistoricalRecords(
        excluded_fields=list(RUNTIME_FIELDS), m2m_fields=["notification_channels"]
    )
    # Set by the admin's rule list for its "current value" column; never stored.
    current_value_text: str

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self.slug:
            self.slug = slugify(self.name)[:200] or "rule"
        if self.pk is not None and not kwargs.get("update_fields"):
            self.version = (self.version or 0) + 1
        super().save(*args, **kwargs)

    @property
    def for_duration(self) -> timedelta:
        return timedelta(seconds=self.for_seconds)

    @property
    def keep_firing_for(self) -> timedelta:
        return timedelta(seconds=self.keep_firing_for_seconds)

    @property
    def cooldown(self) -> timedelta:
        return timedelta(seconds=self.cooldown_seconds)

    def condition(self) -> str:
        return f"{self.expression} {self.operator} {format_number(self.threshold)}"

    def holds(self, value: float | None) -> bool:
        """Whether ``value`` crosses the threshold (NaN and missing never do, as in PromQL)."""
        if value is None or math.isnan(value):
            return False
        return _OPERATORS[self.operator](value, self.threshold)

    def has_guard(self) -> bool:
        return bool(self.min_volume_expression.strip())

    def render(self, key: str, *, value: float | None, labels: dict[str, str]) -> str:
        """The annotation ``key`` with its placeholders filled by plain substitution."""
        return render_template(
            str((self.annotations or {}).get(key, "")),
            value=value,
            threshold=self.threshold,
            labels=labels,
        )


_OPERATORS = {
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
}


def placeholder_problems(text: str) -> list[str]:
    """The placeholders in ``text`` that are not {value}, {threshold} or {labels.NAME}."""
    problems = []
    for name in PLACEHOLDER_RE.findall(text):
        if name not in ("value", "threshold") and not LABEL_PLACEHOLDER_RE.match(name):
            problems.append("{" + name + "}")
    return problems


def render_template(
    text: str, *, value: float | None, threshold: float | None, labels: dict[str, str]
) -> str:
    """Replace the known placeholders; nothing else in ``text`` is interpreted."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name == "value":
            return format_number(value)
        if name == "threshold":
            return format_number(threshold)
        label = LABEL_PLACEHOLDER_RE.match(name)
        if label:
            return str(labels.get(label.group(1), ""))
        return match.group(0)

    return PLACEHOLDER_RE.sub(replace, text)
