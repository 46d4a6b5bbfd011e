from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django_q.models import Failure, OrmQ, Schedule, Success

from monitoring_site.models import JobRun, SeedRecord


@admin.register(JobRun)
class JobRunAdmin(admin.ModelAdmin):
    list_display = ("job", "started_at", "duration_ms", "outcome", "host", "pid", "short_error")
    list_filter = ("outcome", "job")
    search_fields = ("job", "error")
    date_hierarchy = "started_at"
    readonly_fields = [field.name for field in JobRun._meta.fields]

    def has_add_permission(self, request: object) -> bool:
        return False

    def has_change_permission(self, request: object, obj: object = None) -> bool:
        return False

    @admin.display(description="error")
    def short_error(self, obj: JobRun) -> str:
        return obj.error[:120]


@admin.register(SeedRecord)
class SeedRecordAdmin(admin.ModelAdmin):
    """What bootstrap seeded once; deleting a record lets the next bootstrap seed it again."""

    list_display = ("key", "seeded_at")
    search_fields = ("key",)
    readonly_fields = ("key", "seeded_at")

    def has_add_permission(self, request: object) -> bool:
        return False


# --- django-q2: read-only for every role -----------------------------------------------------
# A schedule or task names the code the worker runs (and "resubmit" enqueues it again): only
# superusers may write them, whatever permissions a group holds. The worker guard is the second
# fence (monitoring_site.worker_guard).


def _read_only_for_roles(admin_class: type[admin.ModelAdmin]) -> type[admin.ModelAdmin]:
    class ReadOnlyForRoles(admin_class):  # type: ignore[valid-type,misc]
        def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
            return request.user.is_superuser and super().has_add_permission(request, *args)

        def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
            return request.user.is_superuser and super().has_change_permission(request, obj)

        def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
            return request.user.is_superuser and super().has_delete_permission(request, obj)

        def get_actions(self, request: HttpRequest) -> dict[str, Any]:
            return super().get_actions(request) if request.user.is_superuser else {}

    ReadOnlyForRoles.__name__ = ReadOnlyForRoles.__qualname__ = f"ReadOnly{admin_class.__name__}"
    return ReadOnlyForRoles


for _model in (Schedule, Success, Failure, OrmQ):
    if admin.site.is_registered(_model):
        _stock = type(admin.site.get_model_admin(_model))
        admin.site.unregister(_model)
        admin.site.register(_model, _read_only_for_roles(_stock))
