"""Rules in the API: durations as text, channels and policies by id, checked on save."""

from __future__ import annotations

import math
from typing import Any

from django.utils.text import slugify
from rest_framework import serializers

from alerts.api.fields import DurationSecondsField
from alerts.models import EscalationPolicy, NotificationChannel, Rule
from alerts.rules.validation import rule_problems

# API name -> model field, for the three durations ("for" is a Python keyword).
DURATIONS = {"for": "for_seconds", "keep_firing_for": "keep_firing_for_seconds"}
DURATIONS["cooldown"] = "cooldown_seconds"
API_NAME = {model: api for api, model in DURATIONS.items()}


class StrictFloatField(serializers.FloatField):
    """A JSON number (not a string, not NaN or infinity)."""

    default_error_messages = {"invalid": "A number is required."}

    def to_internal_value(self, data: Any) -> float:
        if isinstance(data, bool) or not isinstance(data, int | float):
            self.fail("invalid")
        if not math.isfinite(data):
            self.fail("invalid")
        return float(data)


class EnabledChannelField(serializers.PrimaryKeyRelatedField):
    """A channel id: unknown and disabled channels are refused alike, with the id named."""

    default_error_messages = {
        "does_not_exist": "No enabled notification channel has id {pk_value}.",
        "incorrect_type": "Expected a channel id (an integer), got {data_type}.",
    }


class PolicyField(serializers.PrimaryKeyRelatedField):
    default_error_messages = {
        "does_not_exist": "No escalation policy has id {pk_value}.",
        "incorrect_type": "Expected a policy id (an integer) or null, got {data_type}.",
    }


class RuleSerializer(serializers.ModelSerializer):
    threshold = StrictFloatField(required=False)
    min_volume = StrictFloatField(required=False, allow_null=True)
    labels = serializers.DictField(child=serializers.CharField(allow_blank=True), required=False)
    annotations = serializers.DictField(
        child=serializers.CharField(allow_blank=True), required=False
    )
    channels = serializers.ListField(child=serializers.CharField(), required=False)
    notification_channels = EnabledChannelField(
        many=True,
        required=False,
        queryset=NotificationChannel.objects.filter(enabled=True),
        help_text="Ids of channels notified when the rule fires, besides the kinds in channels.",
    )
    escalation_policy = PolicyField(
        required=False,
        allow_null=True,
        queryset=EscalationPolicy.objects.all(),
        help_text="Id of the rule's escalation policy; null: the policy of its severity.",
    )
    slug = serializers.SlugField(max_length=200, required=False)

    class Meta:
        model = Rule
        fields = [
            "id",
            "name",
            "slug",
            "description",
            "expression",
            "operator",
            "threshold",
            "severity",
            "labels",
            "annotations",
            "channels",
            "notification_channels",
            "escalation_policy",
            "no_data",
            "min_volume_expression",
            "min_volume",
            "enabled",
            "builtin",
            "version",
            "created_at",
            "updated_at",
            "last_evaluated_at",
            "last_value",
            "last_error",
        ]
        read_only_fields = [
            "builtin",
            "version",
            "created_at",
            "updated_at",
            "last_evaluated_at",
            "last_value",
            "last_error",
        ]

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        for api_name, model_name in DURATIONS.items():
            fields[api_name] = DurationSecondsField(source=model_name, required=False)
        return fields

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        instance: Rule | None = self.instance
        values = {
            field.name: getattr(instance, field.name) if instance else field.get_default()
            for field in Rule._meta.concrete_fields
        }
        values.update(attrs)
        problems = rule_problems(values, builtin=bool(instance and instance.builtin))
        if problems:
            raise serializers.ValidationError(
                {API_NAME.get(field, field): messages for field, messages in problems.items()}
            )
        if not attrs.get("slug") and instance is None:
            attrs["slug"] = self._free_slug(attrs.get("name", ""))
        return attrs

    def _free_slug(self, name: str) -> str:
        slug = slugify(name)[:200]
        if not slug:
            raise serializers.ValidationError({"slug": ["Give a slug (the name has no letters)."]})
        if Rule.objects.filter(slug=slug).exists():
            raise serializers.ValidationError({"slug": [f"A rule with slug {slug!r} exists."]})
        return slug
