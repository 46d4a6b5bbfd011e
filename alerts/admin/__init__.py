"""The alert engine in the operations console: one module per sub-domain, registered on import."""

from alerts.admin import alerts, intake, notifications, rules, silences

__all__ = ["alerts", "intake", "notifications", "rules", "silences"]
