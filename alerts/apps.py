from __future__ import annotations

from typing import Any

from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "alerts"
    verbose_name = "Alerts"
    # Operators acknowledge, resolve and silence (bootstrap grants these to the operator group).
    operator_permissions: tuple[str, ...] = ("acknowledge_alert", "add_silence", "change_silence")

    def ready(self) -> None:
        self._register_event_writer()
        self._register_health_hand_off()
        self._register_collector()
        self._register_anomaly_providers()

    def _register_event_writer(self) -> None:
        # Imported here: the outbox needs the models loaded, and registering it is what ready()
        # is for (alerts.services calls it without importing it; see its docstring).
        from alerts.notifications.outbox import write_for_event
        from alerts.services import register_event_writer

        register_event_writer(write_for_event)

    def _register_health_hand_off(self) -> None:
        # Imported here: these modules load models, which is what ready() waits for. What
        # health shows of alerts it reads through its hooks (health never imports alerts).
        from alerts import health_facts
        from alerts.health_alerts import handle_round
        from alerts.notifications.notices import routing_notices
        from health import hooks

        hooks.register_round_handler(handle_round)
        hooks.register_notice_provider(routing_notices)
        hooks.register_fact_provider(hooks.OPEN_ALERTS, health_facts.open_alerts)
        hooks.register_fact_provider(hooks.MAINTENANCE_WINDOWS, health_facts.maintenance_windows)

    def _register_collector(self) -> None:
        # Imported here: the collectors query models, loaded once the registry is ready.
        from alerts.metrics import EVALUATION_COLLECTOR
        from alerts.notifications.metrics import NOTIFICATION_COLLECTOR
        from metrics_app.exposition import register_collector

        register_collector(EVALUATION_COLLECTOR)
        register_collector(NOTIFICATION_COLLECTOR)
        self._register_self_check(register_collector)

    def _register_self_check(self, register_collector: Any) -> None:
        """Self-alerts (issue #14): the oldest due notification's age on /metrics."""
        from alerts.sources.self_check import BacklogCollector

        register_collector(BacklogCollector())

    def _register_anomaly_providers(self) -> None:
        """Anomaly detection (issue #16): what the dashboard marks and the daily report lists."""
        from alerts.anomalies.selectors import dashboard_anomalies, report_anomalies
        from health import hooks
        from reports import hooks as report_hooks

        hooks.register_fact_provider(hooks.ANOMALIES, dashboard_anomalies)
        report_hooks.register_anomaly_provider(report_anomalies)
