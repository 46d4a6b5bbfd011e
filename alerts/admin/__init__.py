"""The alert engine in the operations console: one module per sub-domain, registered on import."""

from alerts.admin import alerts, anomalies, notifications, rules, silences

__all__ = ["alerts", "anomalies", "notifications", "rules", "silences"]
