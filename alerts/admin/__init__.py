"""The alert engine in the operations console: one module per sub-domain, registered on import."""

from alerts.admin import alerts, anomalies, intake, notifications, rules, silences

__all__ = ["alerts", "anomalies", "intake", "notifications", "rules", "silences"]
