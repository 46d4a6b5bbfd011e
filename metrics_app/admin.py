"""Metrics in the operations console: registered metrics, ingest tokens, series (read-only)."""

from __future__ import annotations

import math
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from metrics_app.catalogue import HISTOGRAM, label_problem, name_problem
from metrics_app.models import IngestToken, MetricDefinition, RemoteWriteProgress, Series
from metrics_app.services import create_ingest_token, revoke_ingest_token, update_ingest_token
from monitoring_site.admin_roles import RoleAdmin
from monitoring_site.humanize import format_number

MAX_LABELS = 10


class MetricDefinitionForm(forms.ModelForm):
    class Meta:
        model = MetricDefinition
        fields = ["name", "type", "help", "unit", "label_names", "buckets", "enabled"]

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        problem = name_problem(name)
        if problem:
            raise forms.ValidationError(problem)
        return name

    def clean_label_names(self) -> list[str]:
        labels = self.cleaned_data.get("label_names") or []
        if not isinstance(labels, list) or not all(isinstance(item, str) for item in labels):
            raise forms.ValidationError('Give a list of label names, e.g. ["service", "type"].')
        if len(labels) > MAX_LABELS:
            raise forms.ValidationError(f"At most {MAX_LABELS} labels (keep label sets bounded).")
        if len(set(labels)) != len(labels):
            raise forms.ValidationError("Label names must be unique.")
        for label in labels:
            problem = label_problem(label)
            if problem:
                raise forms.ValidationError(problem)
        return labels

    def clean_buckets(self) -> list[float]:
        buckets = self.cleaned_data.get("buckets") or []
        if not isinstance(buckets, list):
            raise forms.ValidationError("Give a list of numbers, e.g. [10, 50, 100].")
        numbers = []
        for item in buckets:
            if isinstance(item, bool) or not isinstance(item, int | float):
                raise forms.ValidationError("Bucket bounds must be numbers.")
            if not math.isfinite(item):
                raise forms.ValidationError("Bucket bounds must be finite (+Inf is implied).")
            numbers.append(float(item))
        if numbers != sorted(set(numbers)):
            raise forms.ValidationError("Bucket bounds must be strictly increasing.")
        return numbers

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        kind, buckets = data.get("type"), data.get("buckets") or []
        if kind == HISTOGRAM and not buckets:
            self.add_error("buckets", "A histogram needs its bucket bounds.")
        if kind and kind != HISTOGRAM and buckets:
            self.add_error("buckets", "Only histograms have buckets.")
        return data


@admin.register(MetricDefinition)
class MetricDefinitionAdmin(RoleAdmin):
    """Viewers read the registered metrics; admins register them."""

    form = MetricDefinitionForm
    list_display = ("name", "type", "unit", "label_names", "enabled", "created_at")
    list_filter = ("type", "enabled")
    search_fields = ("name", "help")


class IngestTokenForm(forms.ModelForm):
    class Meta:
        model = IngestToken
        fields = ["name", "service", "multi_service"]


@admin.register(IngestToken)
class IngestTokenAdmin(RoleAdmin):
    """Only admins create, edit and revoke tokens (the admin is their only door).

    A token is shown once, to whoever creates it; afterwards only its public prefix is shown.
    """

    list_display = (
        "prefix",
        "service",
        "name",
        "multi_service",
        "created_at",
        "last_used_at",
        "revoked_at",
    )
    list_filter = ("service", "multi_service", ("revoked_at", admin.EmptyFieldListFilter))
    search_fields = ("prefix", "service", "name")
    list_select_related = ("created_by",)
    actions = ["revoke"]

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any):
        if obj is None:
            kwargs["form"] = IngestTokenForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        if obj is None:
            return ("name", "service", "multi_service")
        return (
            "name",
            "service",
            "multi_service",
            "prefix",
            "created_by",
            "created_at",
            "last_used_at",
            "revoked_at",
        )

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        if obj is None:
            return []
        return ["service", "prefix", "created_by", "created_at", "last_used_at", "revoked_at"]

    def save_model(self, request: HttpRequest, obj: IngestToken, form: Any, change: bool) -> None:
        if change:
            update_ingest_token(token=obj, name=obj.name, multi_service=obj.multi_service)
            return
        token, raw = create_ingest_token(
            service=obj.service,
            name=obj.name,
            multi_service=obj.multi_service,
            created_by=request.user,
        )
        obj.pk = token.pk
        obj.prefix, obj.key_hash, obj.created_at = token.prefix, token.key_hash, token.created_at
        # Shown once: only the hash is stored.
        messages.warning(
            request, f"Ingest token for {token.service} (copy it now, it is not shown again): {raw}"
        )

    @admin.action(description="Revoke the selected tokens", permissions=["change"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[IngestToken]) -> None:
        revoked = sum(revoke_ingest_token(token=token) for token in queryset)
        self.message_user(request, f"Revoked {revoked} token(s).", messages.SUCCESS)


@admin.register(Series)
class SeriesAdmin(RoleAdmin):
    """Written by ingestion: read-only."""

    add_role = change_role = delete_role = None
    list_display = ("name", "labels_key", "kind", "value_text", "value_at", "updated_at")
    list_filter = ("kind", "family")
    search_fields = ("name", "labels_key")
    readonly_fields = [field.name for field in Series._meta.fields]

    @admin.display(description="value", ordering="value")
    def value_text(self, series: Series) -> str:
        return format_number(series.value)


@admin.register(RemoteWriteProgress)
class RemoteWriteProgressAdmin(RoleAdmin):
    """Written by the remote write forwarder: read-only (what was sent, dropped, the last error)."""

    add_role = change_role = delete_role = None
    list_display = (
        "key",
        "sent_batches",
        "rejected_batches",
        "dropped_batches",
        "failures",
        "retry_at",
        "last_sent_at",
        "last_error",
    )
    readonly_fields = [field.name for field in RemoteWriteProgress._meta.fields]
