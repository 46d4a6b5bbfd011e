from __future__ import annotations

from django.apps import AppConfig


class MetricsAppConfig(AppConfig):
    name = "metrics_app"
    verbose_name = "Metrics"
    # Permissions (codename) an operator holds beyond viewing; admins hold every permission.
    operator_permissions: tuple[str, ...] = ()
