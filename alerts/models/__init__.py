"""The alert engine's models: rules (with edit history), alerts and their events, evaluation cycles.

A package so that the notification step can add its models (channels, the outbox, escalation
policies) beside these without one module growing past a readable size.
"""

from __future__ import annotations

from alerts.models.alerts import Alert, AlertEvent, AlertFingerprint
from alerts.models.anomalies import AnomalyDetector, AnomalyScore
from alerts.models.evaluation import EvaluationCycle, EvaluationLease, EvaluatorHeartbeat
from alerts.models.rules import Rule

__all__ = [
    "Alert",
    "AlertEvent",
    "AlertFingerprint",
    "AnomalyDetector",
    "AnomalyScore",
    "EvaluationCycle",
    "EvaluationLease",
    "EvaluatorHeartbeat",
    "Rule",
]
from alerts.models.intake import IntakeToken  # noqa: F401
from alerts.models.notifications import *  # noqa: F403 (channels, outbox, escalation)
from alerts.models.silences import MaintenanceWindow, Silence  # noqa: F401
