"""The alert engine's periodic job and retention."""

from __future__ import annotations

from django.conf import settings

from monitoring_site.jobs import Cleanup, Job

JOBS = [
    # The safety net of the evaluator loop (manage.py run_evaluator): evaluates only when the
    # loop's heartbeat is older than two intervals (alerts.engine.evaluator).
    Job(
        name="alerts.evaluate",
        func="alerts.tasks.evaluate_rules",
        minutes=1,
        heartbeat=True,  # each successful run pings the dead-man's switch (issue #14)
    ),
]
CLEANUPS = [
    Cleanup(
        name="evaluation cycles",
        model="alerts.EvaluationCycle",
        field="started_at",
        setting="ALERT_EVALUATION_CYCLE_RETENTION_DAYS",
    ),
    # Open alerts have no resolved_at, so only closed ones (with their events) are pruned.
    Cleanup(
        name="resolved alerts",
        model="alerts.Alert",
        field="resolved_at",
        setting="ALERT_RETENTION_DAYS",
        filters=(("state", "resolved"),),
    ),
]

# --- notifications (alerts/notifications/) ---
JOBS += [
    # The safety net: retries that fell due, and anything a wake-up on commit missed.
    Job(name="alerts.notify.sweep", func="alerts.notifications.tasks.dispatch_due", minutes=1),
    Job(name="alerts.notify.escalate", func="alerts.notifications.tasks.escalate", minutes=1),
]
# Enqueued on commit of every new notification (outbox.wake_dispatcher); the worker runs only
# declared functions (monitoring_site.worker_guard).
TASKS = ["alerts.notifications.tasks.dispatch_due"]
CLEANUPS += [
    Cleanup(
        name="notifications",
        model="alerts.Notification",
        field="created_at",
        setting="NOTIFY_RETENTION_DAYS",
    ),
]

# --- self-checks (alerts/sources/self_check.py, issue #14) ---
JOBS += [Job(name="alerts.self_check", func="alerts.sources.self_check.run_self_checks", minutes=1)]

# --- silences and maintenance windows (alerts/silences/) ---
# Ended ones are kept as long as resolved alerts, so an alert's suppression can still be traced.
CLEANUPS += [
    Cleanup(
        name="ended silences",
        model="alerts.Silence",
        field="ends_at",
        setting="ALERT_RETENTION_DAYS",
    ),
    Cleanup(
        name="ended maintenance windows",
        model="alerts.MaintenanceWindow",
        field="ends_at",
        setting="ALERT_RETENTION_DAYS",
    ),
]

# --- anomaly detection (alerts/anomalies/, issue #16) ---
# Scoring is cheap and runs every 10 minutes; fits take a second or so per detector and run once
# a day (a scoring run fits only detectors without a current model: new or edited ones).
JOBS += [
    Job(
        name="alerts.anomalies.score",
        func="alerts.anomalies.tasks.score_anomalies",
        minutes=settings.ANOMALY_SCORE_INTERVAL_MINUTES,
    ),
    Job(
        name="alerts.anomalies.fit",
        func="alerts.anomalies.tasks.fit_anomaly_models",
        cron=settings.ANOMALY_FIT_CRON,
    ),
]
CLEANUPS += [
    Cleanup(
        name="anomaly scores",
        model="alerts.AnomalyScore",
        field="at",
        setting="ANOMALY_SCORE_RETENTION_DAYS",
    ),
]

# --- the Alertmanager-compatible intake (alerts/intake/, issue #20) ---
# External alerts the sender stopped repeating resolve when their endsAt passes.
JOBS += [Job(name="alerts.external.expire", func="alerts.tasks.expire_external_alerts", minutes=1)]
