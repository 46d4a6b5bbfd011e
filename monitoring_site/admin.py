from __future__ import annotations

from django.contrib import admin

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
