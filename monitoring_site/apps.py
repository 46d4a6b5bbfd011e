from __future__ import annotations

from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class MonitoringSiteConfig(AppConfig):
    name = "monitoring_site"
    verbose_name = "Monitoring site"
    default = True
    operator_permissions: tuple[str, ...] = ()

    def ready(self) -> None:
        # Signal receivers: the worker's intake guard; what ends API tokens and sessions.
        from monitoring_site import shipping, tokens, tracing, worker_guard  # noqa: F401

        # Issue #14: off (nothing installed, nothing imported) while their variables are unset.
        shipping.install_from_settings()
        tracing.install_from_settings()


class MonitoringAdminConfig(admin_apps.AdminConfig):
    default = False
    default_site = "monitoring_site.admin_site.MonitoringAdminSite"
