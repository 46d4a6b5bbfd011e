from __future__ import annotations

import logging
from typing import Any

from django.apps import AppConfig

logger = logging.getLogger(__name__)


class AlertsConfig(AppConfig):
    name = "alerts"
    verbose_name = "Alerts"
    # Operators acknowledge, resolve and silence (bootstrap grants these to the operator group).
    operator_permissions: tuple[str, ...] = ("acknowledge_alert", "add_silence", "change_silence")

    def ready(self) -> None:
        self._register_health_handler()
        self._register_collector()

    def _register_health_handler(self) -> None:
        try:
            from health.hooks import register_notice_provider, register_round_handler
        except ImportError:  # health's hand-off not installed yet: no health alerts
            logger.debug("health.hooks not available; service_down alerts are off")
            return
        from alerts.health_alerts import handle_round
        from alerts.notifications.notices import routing_notices

        register_round_handler(handle_round)
        register_notice_provider(routing_notices)

    def _register_collector(self) -> None:
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
