"""Intake tokens in the operations console: admins issue, rename and revoke them."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from alerts.intake.tokens import create_intake_token, rename_intake_token, revoke_intake_token
from alerts.models import IntakeToken
from monitoring_site.admin_roles import RoleAdmin


class IntakeTokenForm(forms.ModelForm):
    class Meta:
        model = IntakeToken
        fields = ["name"]


@admin.register(IntakeToken)
class IntakeTokenAdmin(RoleAdmin):
    """Only admins create, rename and revoke tokens; a token is shown once, to its creator."""

    list_display = ("prefix", "name", "created_at", "last_used_at", "revoked_at")
    list_filter = (("revoked_at", admin.EmptyFieldListFilter),)
    search_fields = ("prefix", "name")
    list_select_related = ("created_by",)
    actions = ["revoke"]

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any):
        if obj is None:
            kwargs["form"] = IntakeTokenForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        if obj is None:
            return ("name",)
        return ("name", "prefix", "created_by", "created_at", "last_used_at", "revoked_at")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        if obj is None:
            return []
        return ["prefix", "created_by", "created_at", "last_used_at", "revoked_at"]

    def save_model(self, request: HttpRequest, obj: IntakeToken, form: Any, change: bool) -> None:
        if change:
            rename_intake_token(token=obj, name=obj.name)
            return
        token, raw = create_intake_token(name=obj.name, created_by=request.user)
        obj.pk = token.pk
        obj.prefix, obj.key_hash, obj.created_at = token.prefix, token.key_hash, token.created_at
        # Shown once: only the hash is stored.
        messages.warning(
            request, f"Intake token {token.name} (copy it now, it is not shown again): {raw}"
        )

    @admin.action(description="Revoke the selected tokens", permissions=["change"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[IntakeToken]) -> None:
        revoked = sum(revoke_intake_token(token=token) for token in queryset)
        self.message_user(request, f"Revoked {revoked} token(s).", messages.SUCCESS)
