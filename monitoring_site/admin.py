"""Job runs and seed records in the operations console; django-q2's task pages, fenced."""

from __future__ import annotations

from typing import Any

from axes.admin import AccessAttemptAdmin, AccessFailureLogAdmin, AccessLogAdmin
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest
from django_q.models import Failure, OrmQ, Schedule, Success

from monitoring_site import services
from monitoring_site.admin_roles import RoleAdmin
from monitoring_site.humanize import duration_text
from monitoring_site.models import JobRun, SeedRecord


@admin.register(JobRun)
class JobRunAdmin(RoleAdmin):
    """Written by the job wrapper: read-only (admins may delete, as retention does)."""

    add_role = change_role = None
    list_display = ("job", "started_at", "duration", "outcome", "host", "pid", "short_error")
    list_filter = ("outcome", "job")
    search_fields = ("job", "error")
    date_hierarchy = "started_at"
    fields = (
        "job",
        ("started_at", "finished_at", "duration"),
        "outcome",
        "error",
        "result",
        ("host", "pid"),
    )
    readonly_fields = (
        "job",
        "started_at",
        "finished_at",
        "duration",
        "outcome",
        "error",
        "result",
        "host",
        "pid",
    )

    @admin.display(description="error")
    def short_error(self, obj: JobRun) -> str:
        return obj.error[:120]

    @admin.display(description="duration", ordering="duration_ms")
    def duration(self, obj: JobRun) -> str:
        return duration_text(milliseconds=obj.duration_ms)


@admin.register(SeedRecord)
class SeedRecordAdmin(RoleAdmin):
    """What bootstrap seeded once; deleting a record lets the next bootstrap seed it again."""

    add_role = change_role = None
    list_display = ("key", "seeded_at")
    search_fields = ("key",)
    readonly_fields = ("key", "seeded_at")


# --- django-q2: read-only for every role -----------------------------------------------------
# A schedule or task names the code the worker runs (and "resubmit" enqueues it again): only
# superusers may write them, whatever permissions a group holds. The worker guard is the second
# fence (monitoring_site.worker_guard).


def _is_superuser(request: HttpRequest) -> bool:
    return bool(getattr(request.user, "is_superuser", False))


def _read_only_for_roles(admin_class: type[admin.ModelAdmin]) -> type[admin.ModelAdmin]:
    class ReadOnlyForRoles(admin_class):  # type: ignore[valid-type,misc]
        def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
            return _is_superuser(request) and super().has_add_permission(request, *args)

        def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
            return _is_superuser(request) and super().has_change_permission(request, obj)

        def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
            return _is_superuser(request) and super().has_delete_permission(request, obj)

        def get_actions(self, request: HttpRequest) -> dict[str, Any]:
            return super().get_actions(request) if _is_superuser(request) else {}

    ReadOnlyForRoles.__name__ = ReadOnlyForRoles.__qualname__ = f"ReadOnly{admin_class.__name__}"
    return ReadOnlyForRoles


for _model in (Schedule, Success, Failure, OrmQ):
    if admin.site.is_registered(_model):
        _stock = type(admin.site.get_model_admin(_model))
        admin.site.unregister(_model)
        admin.site.register(_model, _read_only_for_roles(_stock))


# --- sign-in lockouts (django-axes) ----------------------------------------------------------
# The admin role sees attempts and lifts a lockout (deleting its attempt record); operators and
# viewers see nothing of them (bootstrap grants these permissions to the admin role only).


@admin.register(AccessAttempt)
class LockoutAdmin(AccessAttemptAdmin):
    actions = ["lift_lockouts"]

    @admin.action(description="Lift the selected lockouts", permissions=["delete"])
    def lift_lockouts(self, request: HttpRequest, queryset: QuerySet[AccessAttempt]) -> None:
        lifted = services.lift_lockouts(attempts=queryset, actor=request.user)
        self.message_user(request, f"Lifted {lifted} lockout(s).", messages.SUCCESS)

    def delete_model(self, request: HttpRequest, obj: AccessAttempt) -> None:
        services.lift_lockouts(attempts=AccessAttempt.objects.filter(pk=obj.pk), actor=request.user)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[AccessAttempt]) -> None:
        services.lift_lockouts(attempts=queryset, actor=request.user)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(AccessLog)
class SignInLogAdmin(AccessLogAdmin):
    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(AccessFailureLog)
class SignInFailureLogAdmin(AccessFailureLogAdmin):
    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


# --- users: "sign out everywhere" --------------------------------------------------------------
# Users stay a superuser's to edit; the admin role (monitoring_site.revoke_tokens) may list them
# and sign any of them out everywhere, through the service the API's logout-all uses.


class MonitoringUserAdmin(UserAdmin):
    actions = ["sign_out_everywhere"]

    @admin.action(
        description="Sign out everywhere (end API tokens and browser sessions)",
        permissions=["revoke_tokens"],
    )
    def sign_out_everywhere(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        for user in queryset:
            services.sign_out_everywhere(user=user, actor=request.user)
        self.message_user(
            request, f"Signed {len(queryset)} user(s) out everywhere.", messages.SUCCESS
        )

    def has_revoke_tokens_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.has_perm("monitoring_site.revoke_tokens"))

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_view_permission(request, obj) or self.has_revoke_tokens_permission(
            request
        )

    def has_module_permission(self, request: HttpRequest) -> bool:
        return super().has_module_permission(request) or self.has_revoke_tokens_permission(request)


_User = get_user_model()
if admin.site.is_registered(_User):
    admin.site.unregister(_User)
admin.site.register(_User, MonitoringUserAdmin)
