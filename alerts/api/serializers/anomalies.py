"""Anomaly detectors, their scores and forecasts in the API; detectors checked on save."""

from __future__ import annotations

from typing import Any

from django.utils.text import slugify
from rest_framework import serializers
from rest_framework.validators import UniqueValidator

from alerts.anomalies.validation import detector_problems
from alerts.api.fields import DurationSecondsField
from alerts.api.serializers.rules import EnabledChannelField, StrictFloatField
from alerts.models import AnomalyDetector, AnomalyScore, NotificationChannel

API_NAME = {"minimum_history_seconds": "minimum_history"}


class AnomalyDetectorSerializer(serializers.ModelSerializer):
    sensitivity = StrictFloatField(required=False)
    minimum_history = DurationSecondsField(source="minimum_history_seconds", required=False)
    channels = serializers.ListField(child=serializers.CharField(), required=False)
    notification_channels = EnabledChannelField(
        many=True,
        required=False,
        queryset=NotificationChannel.objects.filter(enabled=True),
        help_text="Ids of channels notified of an anomaly, besides the kinds in channels.",
    )
    slug = serializers.SlugField(
        max_length=200,
        required=False,
        validators=[UniqueValidator(queryset=AnomalyDetector.objects.all())],
    )
    fitted = serializers.SerializerMethodField()

    class Meta:
        model = AnomalyDetector
        fields = [
            "id",
            "name",
            "slug",
            "description",
            "expression",
            "seasonality",
            "sensitivity",
            "direction",
            "minimum_history",
            "timezone",
            "severity",
            "channels",
            "notification_channels",
            "enabled",
            "version",
            "created_at",
            "updated_at",
            "status",
            "status_message",
            "fitted",
            "fitted_at",
            "scored_until",
            "last_error",
        ]
        read_only_fields = [
            "version",
            "created_at",
            "updated_at",
            "status",
            "status_message",
            "fitted_at",
            "scored_until",
            "last_error",
        ]

    def get_fitted(self, detector: AnomalyDetector) -> bool:
        """Whether a model fitted for the detector as it is now is stored."""
        return detector.fitted_model() is not None

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        instance: AnomalyDetector | None = self.instance
        values = {
            field.name: getattr(instance, field.name) if instance else field.get_default()
            for field in AnomalyDetector._meta.concrete_fields
        }
        values.update(attrs)
        problems = detector_problems(values)
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
        if AnomalyDetector.objects.filter(slug=slug).exists():
            raise serializers.ValidationError({"slug": [f"A detector with slug {slug!r} exists."]})
        return slug


class AnomalyScoreSerializer(serializers.ModelSerializer):
    detector: serializers.SlugRelatedField[AnomalyDetector] = serializers.SlugRelatedField(
        slug_field="slug", read_only=True
    )

    class Meta:
        model = AnomalyScore
        fields = ["detector", "at", "observed", "expected", "lower", "upper", "score", "anomalous"]


class ForecastPointSerializer(serializers.Serializer):
    at = serializers.DateTimeField()
    expected = serializers.FloatField()
    lower = serializers.FloatField()
    upper = serializers.FloatField()


class ForecastSerializer(serializers.Serializer):
    detector = serializers.IntegerField()
    status = serializers.CharField()
    message = serializers.CharField()
    fitted_at = serializers.DateTimeField(allow_null=True)
    points = ForecastPointSerializer(many=True)
