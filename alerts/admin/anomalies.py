"""Anomaly detectors in the operations console: the form that checks them, their scores."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from alerts.anomalies.services import delete_detector, save_detector
from alerts.anomalies.validation import detector_problems
from alerts.models import AnomalyDetector, AnomalyScore
from monitoring_site.admin_roles import RoleAdmin


class AnomalyDetectorForm(forms.ModelForm):
    """Checks the expression (with its position), sensitivity, seasonality, history, channels."""

    class Meta:
        model = AnomalyDetector
        fields = [
            "name",
            "slug",
            "description",
            "enabled",
            "expression",
            "seasonality",
            "sensitivity",
            "direction",
            "minimum_history_seconds",
            "timezone",
            "severity",
            "channels",
            "notification_channels",
        ]

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        fields = AnomalyDetector._meta.fields
        values = {field.name: getattr(self.instance, field.name) for field in fields}
        values.update(cleaned)
        for field, problems in detector_problems(values).items():
            target = field if field in self.fields and field in cleaned else None
            for problem in problems:
                self.add_error(target, problem)
        return cleaned


@admin.register(AnomalyDetector)
class AnomalyDetectorAdmin(RoleAdmin):
    """Viewers read detectors; admins write them, through the same services as the API."""

    form = AnomalyDetectorForm
    list_display = (
        "name",
        "status",
        "seasonality",
        "direction",
        "sensitivity",
        "severity",
        "enabled",
        "fitted_at",
        "scored_until",
    )
    list_filter = ("status", "seasonality", "direction", "severity", "enabled")
    search_fields = ("name", "slug", "expression", "description")
    readonly_fields = (
        "version",
        "status",
        "status_message",
        "fitted_at",
        "fitted_version",
        "scored_until",
        "last_error",
        "last_error_at",
    )
    fieldsets = (
        (None, {"fields": ("name", "slug", "description", "enabled", "version")}),
        (
            "Series and model",
            {
                "fields": (
                    "expression",
                    "seasonality",
                    "sensitivity",
                    "direction",
                    "minimum_history_seconds",
                    "timezone",
                )
            },
        ),
        ("Alert", {"fields": ("severity", "notification_channels", "channels")}),
        (
            "State",
            {
                "fields": (
                    "status",
                    "status_message",
                    "fitted_at",
                    "fitted_version",
                    "scored_until",
                    "last_error",
                    "last_error_at",
                )
            },
        ),
    )
    filter_horizontal = ("notification_channels",)

    def save_model(
        self, request: HttpRequest, obj: AnomalyDetector, form: Any, change: bool
    ) -> None:
        channels = form.cleaned_data.get("notification_channels")
        save_detector(detector=obj, user=request.user, channels=channels)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        for formset in formsets:  # the channels were set by save_detector
            self.save_formset(request, form, formset, change=change)

    def delete_model(self, request: HttpRequest, obj: AnomalyDetector) -> None:
        delete_detector(detector=obj, user=request.user)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[AnomalyDetector]) -> None:
        for detector in queryset.order_by("pk"):
            delete_detector(detector=detector, user=request.user)


@admin.register(AnomalyScore)
class AnomalyScoreAdmin(RoleAdmin):
    """Written by the scoring job: read-only (admins may delete, as retention does)."""

    add_role = change_role = None
    list_display = (
        "at",
        "detector",
        "observed",
        "expected",
        "lower",
        "upper",
        "score",
        "anomalous",
    )
    list_filter = ("anomalous", "detector")
    list_select_related = ("detector",)
    date_hierarchy = "at"
    readonly_fields = (
        "detector",
        "at",
        "observed",
        "expected",
        "lower",
        "upper",
        "score",
        "anomalous",
    )
