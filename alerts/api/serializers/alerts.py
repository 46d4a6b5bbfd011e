"""Alerts in the API: list rows, detail with events, the original service's overview."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from alerts.models import Alert, AlertEvent


# API name -> model field, for the three durations ("for" is a Python keyword).
class AlertEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = AlertEvent
        fields = ["id", "kind", "actor", "at", "details"]


class AlertSerializer(serializers.ModelSerializer):
    rule = serializers.SerializerMethodField()
    acknowledged_by = serializers.CharField(source="acknowledged_by_name")
    resolved_by = serializers.CharField(source="resolved_by_name")

    class Meta:
        model = Alert
        fields = [
            "id",
            "source",
            "rule",
            "rule_name",
            "fingerprint",
            "labels",
            "state",
            "severity",
            "value",
            "threshold",
            "operator",
            "expression",
            "rule_version",
            "summary",
            "description",
            "details",
            "started_at",
            "fired_at",
            "acknowledged_at",
            "acknowledged_by",
            "resolved_at",
            "resolved_by",
            "last_notified_at",
            "unrouted_since",
            "unrouted_reason",
        ]
        read_only_fields = fields

    def get_rule(self, alert: Alert) -> dict[str, Any] | None:
        if alert.rule_id is None:
            return None
        return {"id": alert.rule_id, "slug": alert.rule.slug if alert.rule else None}


class AlertDetailSerializer(AlertSerializer):
    events = AlertEventSerializer(many=True, read_only=True)

    class Meta(AlertSerializer.Meta):
        fields = [*AlertSerializer.Meta.fields, "events"]
        read_only_fields = fields


class AlertsOverviewSerializer(serializers.Serializer):
    active = AlertSerializer(many=True)
    recent = AlertSerializer(many=True)
