from __future__ import annotations

from django.apps import AppConfig


class HealthConfig(AppConfig):
    name = "health"
    verbose_name = "Health"
    operator_permissions: tuple[str, ...] = ()
