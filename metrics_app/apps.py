from __future__ import annotations

from django.apps import AppConfig


class MetricsAppConfig(AppConfig):
    name = "metrics_app"
    verbose_name = "Metrics"
    # Permissions (codename) an operator holds beyond viewing; admins hold every permission.
    operator_permissions: tuple[str, ...] = ()

    def ready(self) -> None:
        # Imported here: the catalogue and collectors load models, ready once the registry is.
        from django.db.models.signals import post_delete, post_save

        from metrics_app import catalogue, exposition
        from metrics_app.collectors import JobRunCollector, RemoteWriteCollector
        from metrics_app.models import MetricDefinition
        from monitoring_site.outages import IntegrationCollector
        from monitoring_site.workers import WorkerCollector

        def forget(**kwargs: object) -> None:
            catalogue.clear_cache()
            exposition.invalidate()

        post_save.connect(forget, sender=MetricDefinition, dispatch_uid="metrics_catalogue_save")
        post_delete.connect(forget, sender=MetricDefinition, dispatch_uid="metrics_catalogue_del")
        exposition.register_collector(JobRunCollector())
        exposition.register_collector(WorkerCollector())
        exposition.register_collector(IntegrationCollector())
        exposition.register_collector(RemoteWriteCollector())
