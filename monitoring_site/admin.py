"""Job runs and seed records in the operations console; django-q2's task pages, fenced."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django_q import admin as q_admin
from django_q.models import Failure, Success

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


# django-q2's "resubmit" action has no permission of its own: anyone who may view task rows
# could run them again (and it deletes the failure it resubmits). Only superusers may.
@admin.action(description="Resubmit selected tasks to queue", permissions=["resubmit"])
def resubmit_task(model_admin: Any, request: HttpRequest, queryset: QuerySet) -> None:
    q_admin.resubmit_task(model_admin, request, queryset)


class _SuperuserResubmits:
    actions = [resubmit_task]

    def has_resubmit_permission(self, request: HttpRequest) -> bool:
        user = request.user
        return bool(user.is_active and getattr(user, "is_superuser", False))


class SuccessAdmin(_SuperuserResubmits, q_admin.TaskAdmin):
    pass


class FailureAdmin(_SuperuserResubmits, q_admin.FailAdmin):
    pass


for _model, _admin_class in ((Success, SuccessAdmin), (Failure, FailureAdmin)):
    if admin.site.is_registered(_model):
        admin.site.unregister(_model)
    admin.site.register(_model, _admin_class)
