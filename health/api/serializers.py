"""Serializers of the health API: the service registry, validated, and round reports."""

from __future__ import annotations

import re
from typing import Any

from rest_framework import serializers

from health.models import ROUND_FIELDS, Outcome, Service
from health.probes import PROBES
from health.probes.base import redact
from health.selectors import iso, would_create_cycle
from health.services import RoundReport

SLUG = re.compile(r"[-a-zA-Z0-9_]{1,64}")
TIMEOUT_RANGE = (0.1, 60.0)
WRITABLE_KINDS = tuple(kind for kind in PROBES if kind != Service.Kind.MONITOR)
_KINDS = ", ".join(WRITABLE_KINDS)


class ServiceSlugField(serializers.SlugRelatedField):
    """A service named by its slug. Anything that is not slug-shaped names no service, and is
    refused before it reaches the database (PostgreSQL cannot even compare a NUL character)."""

    def to_internal_value(self, data: Any) -> Service:
        if not isinstance(data, str) or not SLUG.fullmatch(data):
            self.fail("does_not_exist", slug_name=self.slug_field, value=str(data)[:64])
        return super().to_internal_value(data)


class ServiceSerializer(serializers.ModelSerializer):
    kind = serializers.ChoiceField(
        choices=Service.Kind.choices,
        default=Service.Kind.HTTP,
        error_messages={"invalid_choice": f"Unknown kind {{input!r}}: expected {_KINDS}."},
    )
    # Blank until the first round: declared, as the model's read-only field would lose that.
    last_outcome = serializers.ChoiceField(
        choices=Outcome.choices, allow_blank=True, read_only=True
    )
    depends_on = ServiceSlugField(
        many=True, slug_field="slug", queryset=Service.objects.all(), required=False
    )
    timeout = serializers.FloatField(
        default=3.0, min_value=TIMEOUT_RANGE[0], max_value=TIMEOUT_RANGE[1]
    )
    expected_status = serializers.IntegerField(default=200, min_value=100, max_value=599)
    failure_threshold = serializers.IntegerField(default=3, min_value=1, max_value=100)
    success_threshold = serializers.IntegerField(default=2, min_value=1, max_value=100)
    tags = serializers.ListField(
        child=serializers.CharField(max_length=50), max_length=20, required=False
    )

    class Meta:
        model = Service
        fields = [
            "id",
            "slug",
            "name",
            "kind",
            "target",
            "health_path",
            "timeout",
            "expected_status",
            "critical",
            "depends_on",
            "enabled",
            "failure_threshold",
            "success_threshold",
            "tags",
            "state",
            "state_since",
            "impacted_by",
            "consecutive_failures",
            "consecutive_successes",
            "last_checked_at",
            "last_outcome",
            "last_latency_ms",
            "last_status_code",
            "last_error",
            "created_at",
            "updated_at",
        ]
        read_only_fields = [*ROUND_FIELDS, "created_at", "updated_at"]

    def to_representation(self, instance: Service) -> dict[str, Any]:
        data = super().to_representation(instance)
        data["target"] = redact(instance.target)  # a DSN's password is never shown back
        return data

    def validate_kind(self, value: str) -> str:
        monitor = self.instance is not None and self.instance.is_monitor_dependency
        if monitor and value == Service.Kind.MONITOR:
            return value
        if value not in WRITABLE_KINDS:
            raise serializers.ValidationError(
                f"Unknown kind {value[:30]!r}: expected one of {', '.join(WRITABLE_KINDS)}."
            )
        return value

    def validate_health_path(self, value: str) -> str:
        if value and (not value.startswith("/") or any(c.isspace() for c in value)):
            raise serializers.ValidationError("Expected a path starting with / and no spaces.")
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        instance = self.instance
        kind = attrs.get("kind", instance.kind if instance else Service.Kind.HTTP)
        if instance is not None and instance.is_monitor_dependency:
            if kind != Service.Kind.MONITOR or attrs.get("target", instance.target) != (
                instance.target
            ):
                raise serializers.ValidationError(
                    {"kind": "The monitor's own dependencies keep their kind and target."}
                )
        if "target" in attrs or "kind" in attrs:
            target = attrs.get("target", instance.target if instance else "")
            try:
                attrs["target"] = PROBES[kind].validate_target(target)
            except ValueError as exc:
                raise serializers.ValidationError({"target": f"Invalid target: {exc}."}) from None
        if "depends_on" in attrs:
            self._check_dependencies(attrs["depends_on"])
        return attrs

    def _check_dependencies(self, dependencies: list[Service]) -> None:
        pk = self.instance.pk if self.instance else None
        if pk is not None and any(dep.pk == pk for dep in dependencies):
            raise serializers.ValidationError({"depends_on": "A service cannot depend on itself."})
        cycle = would_create_cycle(pk, [dep.pk for dep in dependencies])
        if cycle:
            slugs = dict(Service.objects.filter(pk__in=cycle).values_list("pk", "slug"))
            path = " -> ".join(slugs[node] for node in cycle)
            raise serializers.ValidationError(
                {"depends_on": f"These dependencies would make a cycle: {path}."}
            )


_NUMBER_OR_NULL = {"type": "number", "nullable": True}
_RAW_POINT = {
    "type": "object",
    "description": "One check result (resolution raw).",
    "properties": {
        "at": {"type": "string", "format": "date-time"},
        "outcome": {"type": "string", "enum": list(Outcome.values)},
        "latency_ms": _NUMBER_OR_NULL,
        "status_code": {"type": "integer", "nullable": True},
        "error": {"type": "string"},
    },
    "required": ["at", "outcome", "latency_ms", "status_code", "error"],
}
_HOURLY_POINT = {
    "type": "object",
    "description": "One UTC hour of results (resolution hour).",
    "properties": {
        "hour": {"type": "string", "format": "date-time"},
        "checks": {"type": "integer", "minimum": 0},
        "up": {"type": "integer", "minimum": 0},
        "degraded": {"type": "integer", "minimum": 0},
        "down": {"type": "integer", "minimum": 0},
        "uptime": {**_NUMBER_OR_NULL, "minimum": 0, "maximum": 1},
        "latency_avg_ms": _NUMBER_OR_NULL,
    },
    "required": ["hour", "checks", "up", "degraded", "down", "uptime", "latency_avg_ms"],
}
SERVICE_HISTORY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "service": {"type": "string", "description": "The service's slug."},
        "from": {"type": "string", "format": "date-time"},
        "to": {"type": "string", "format": "date-time"},
        "resolution": {"type": "string", "enum": ["raw", "hour"]},
        "points": {"type": "array", "items": {"oneOf": [_RAW_POINT, _HOURLY_POINT]}},
    },
    "required": ["service", "from", "to", "resolution", "points"],
}


def round_report(report: RoundReport, services: dict[int, Service]) -> dict[str, Any]:
    """A round as the API returns it."""
    return {
        "checked_at": iso(report.checked_at),
        "duration_ms": report.duration_ms,
        "deadline_s": report.deadline,
        "results": [
            {
                "service": services[pk].slug,
                "state": services[pk].state,
                "outcome": result.outcome,
                "status_code": result.status_code,
                "latency_ms": result.latency_ms,
                "error": result.error,
                "details": result.details,
            }
            for pk, result in sorted(report.results.items(), key=lambda i: services[i[0]].slug)
            if pk in services
        ],
        "state_changes": [
            {
                "service": services[change.service_id].slug,
                "from": change.from_state,
                "to": change.to_state,
                "at": iso(change.at),
                "cause": change.cause,
                "impacted_by": change.impacted_by,
            }
            for change in report.changes
            if change.service_id in services
        ],
    }
