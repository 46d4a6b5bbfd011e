"""Settings of alerts, read from the environment (imported into monitoring_site.settings)."""

from __future__ import annotations

from monitoring_site.env import (
    env_bool,
    env_cron,
    env_duration,
    env_float,
    env_int,
    env_list,
    env_networks,
    env_secret,
    env_str,
    env_url,
)

# The evaluator (manage.py run_evaluator) evaluates every rule on this grid of its own clock.
RULE_EVALUATION_INTERVAL_SECONDS = env_int(
    "RULE_EVALUATION_INTERVAL_SECONDS", 15, minimum=5, maximum=3600
)
# Rules whose series just received samples are evaluated this long after the first of them
# arrived (the samples of one push round land together), instead of waiting for the grid.
RULE_EVALUATION_DEBOUNCE_SECONDS = env_float(
    "RULE_EVALUATION_DEBOUNCE_SECONDS", 2.0, minimum=0.0, maximum=60.0
)
# ... but a rule is evaluated early at most this often, and only while full cycles cost less than
# a third of the interval: a busy install falls back to the grid rather than falling behind.
RULE_EVALUATION_MIN_GAP_SECONDS = env_float(
    "RULE_EVALUATION_MIN_GAP_SECONDS", 5.0, minimum=1.0, maximum=3600.0
)

# A cycle holds the evaluation lease this long; a crashed evaluator's lease expires after it, and
# a cycle that starts while the lease is held is skipped (counted) instead of piling up.
ALERT_EVALUATION_LEASE_SECONDS = env_int("ALERT_EVALUATION_LEASE_SECONDS", 300, minimum=10)
# Retention (the daily cleanup): evaluation cycle rows, and resolved alerts with their events.
ALERT_EVALUATION_CYCLE_RETENTION_DAYS = env_int(
    "ALERT_EVALUATION_CYCLE_RETENTION_DAYS", 7, minimum=1
)
ALERT_RETENTION_DAYS = env_int("ALERT_RETENTION_DAYS", 90, minimum=1)
# The longest range a rule preview replays, and how many evaluation points it may use.
ALERT_PREVIEW_MAX_DAYS = env_int("ALERT_PREVIEW_MAX_DAYS", 7, minimum=1, maximum=35)
ALERT_PREVIEW_MAX_POINTS = env_int("ALERT_PREVIEW_MAX_POINTS", 1440, minimum=10)

# --- anomaly detection (alerts/anomalies/; documented in docs/anomalies.md) ---------------------
# The scoring job's period, and the daily fit's time (cron, UTC).
ANOMALY_SCORE_INTERVAL_MINUTES = env_int(
    "ANOMALY_SCORE_INTERVAL_MINUTES", 10, minimum=1, maximum=60
)
ANOMALY_FIT_CRON = env_cron("ANOMALY_FIT_CRON", "30 1 * * *")
# A scoring run first fits up to this many detectors that have no current model (new, edited, or
# left over by the daily fit), within ANOMALY_FIT_BUDGET_SECONDS; the daily fit refits the rest.
ANOMALY_FITS_PER_RUN = env_int("ANOMALY_FITS_PER_RUN", 5, minimum=0)
ANOMALY_FIT_BUDGET_SECONDS = env_int("ANOMALY_FIT_BUDGET_SECONDS", 180, minimum=1)
ANOMALY_REFIT_AFTER_HOURS = env_int("ANOMALY_REFIT_AFTER_HOURS", 26, minimum=1)
# A step is scored once it ended this long ago (samples still in flight), and at most this far
# back (a detector that was off, learning or failing does not replay days of steps).
ANOMALY_SETTLE_SECONDS = env_int("ANOMALY_SETTLE_SECONDS", 60, minimum=0, maximum=3600)
ANOMALY_CATCH_UP_MINUTES = env_int("ANOMALY_CATCH_UP_MINUTES", 60, minimum=10)
# An anomaly's alert resolves once this many scored steps in a row are back inside the band.
ANOMALY_RESOLVE_STEPS = env_int("ANOMALY_RESOLVE_STEPS", 2, minimum=1, maximum=288)
# Scores are kept this long (the daily cleanup).
ANOMALY_SCORE_RETENTION_DAYS = env_int("ANOMALY_SCORE_RETENTION_DAYS", 35, minimum=1)

# --- channels (alerts/channels/; documented in docs/channels.md) ---------------------------------
# Timeouts of one vendor call (seconds): connecting, and waiting for each read of the answer.
# The outbox lease must outlast CHANNEL_CONNECT_TIMEOUT + CHANNEL_READ_TIMEOUT.
CHANNEL_CONNECT_TIMEOUT = env_float("CHANNEL_CONNECT_TIMEOUT", 5.0, minimum=0.1)
CHANNEL_READ_TIMEOUT = env_float("CHANNEL_READ_TIMEOUT", 10.0, minimum=0.1)
# Networks a webhook or Slack URL may reach even though they are private (CIDRs, comma-separated),
# e.g. an internal receiver; everything else private stays refused unless WEBHOOK_ALLOW_PRIVATE.
WEBHOOK_ALLOWED_NETWORKS = env_networks("WEBHOOK_ALLOWED_NETWORKS")

# --- vendors: Slack, PagerDuty, webhooks (alerts/channels/) ---------------------------------------
SLACK_WEBHOOK_URL = env_secret("SLACK_WEBHOOK_URL")
SLACK_TOKEN = env_secret("SLACK_TOKEN")
SLACK_CHANNEL = env_str("SLACK_CHANNEL", "#alerts")
SLACK_API_URL = env_url("SLACK_API_URL", "https://slack.com/api/")
PAGERDUTY_ROUTING_KEY = env_secret("PAGERDUTY_ROUTING_KEY")
PAGERDUTY_API_KEY = env_secret("PAGERDUTY_API_KEY")
PAGERDUTY_SERVICE_ID = env_str("PAGERDUTY_SERVICE_ID")
PAGERDUTY_FROM = env_str("PAGERDUTY_FROM")  # the PagerDuty user REST API changes are made as
PAGERDUTY_EVENTS_URL = env_url("PAGERDUTY_EVENTS_URL", "https://events.pagerduty.com/v2/enqueue")
PAGERDUTY_API_URL = env_url("PAGERDUTY_API_URL", "https://api.pagerduty.com")
ALLOW_HTTP_WEBHOOKS = env_bool("ALLOW_HTTP_WEBHOOKS", False)
WEBHOOK_ALLOW_PRIVATE = env_bool("WEBHOOK_ALLOW_PRIVATE", False)

# --- notifications (alerts/notifications/; documented in docs/notifications.md) -----------------
# A message not delivered this long after it was queued is given up and shown as failed.
NOTIFY_MAX_AGE = env_duration("NOTIFY_MAX_AGE", "24h")
# Retries: exponential backoff from NOTIFY_RETRY_BASE_SECONDS, doubled per attempt, capped, with
# jitter (each delay is drawn from [50%, 100%] of its step); a 429's Retry-After is a floor.
NOTIFY_RETRY_BASE_SECONDS = env_float("NOTIFY_RETRY_BASE_SECONDS", 10.0, minimum=0.1)
NOTIFY_RETRY_MAX_SECONDS = env_float("NOTIFY_RETRY_MAX_SECONDS", 600.0, minimum=1.0)
# A dispatcher holds a claimed row this long; it must outlast one send (connect + read timeout).
NOTIFY_LEASE_SECONDS = env_float("NOTIFY_LEASE_SECONDS", 60.0, minimum=5.0)
# A vendor's 429/503 with Retry-After pauses the whole channel; a Retry-After longer than this
# (a misbehaving proxy asking for a day) pauses it this long.
NOTIFY_PAUSE_MAX_SECONDS = env_float("NOTIFY_PAUSE_MAX_SECONDS", 900.0, minimum=1.0)
# Slack accepts about one message per second per channel.
NOTIFY_SLACK_INTERVAL_SECONDS = env_float("NOTIFY_SLACK_INTERVAL_SECONDS", 1.0, minimum=0.0)
# One dispatch task works at most this long, waiting at most NOTIFY_WAIT_SECONDS for rows that
# become due meanwhile (a paced Slack message, a short Retry-After) before it returns.
NOTIFY_DISPATCH_BUDGET_SECONDS = env_float("NOTIFY_DISPATCH_BUDGET_SECONDS", 50.0, minimum=1.0)
NOTIFY_WAIT_SECONDS = env_float("NOTIFY_WAIT_SECONDS", 5.0, minimum=0.0)
# PostgreSQL: dispatchers commit their own bookkeeping (claims, attempts) without waiting for the
# WAL flush; a database crash can then only cause a re-send (docs/notifications.md).
NOTIFY_ASYNC_COMMIT = env_bool("NOTIFY_ASYNC_COMMIT", True)
# A channel failing (transiently) for this long raises a self-alert through the other channels.
NOTIFY_CHANNEL_FAILING_MINUTES = env_int("NOTIFY_CHANNEL_FAILING_MINUTES", 15, minimum=1)
# Delivered and failed outbox rows (with their attempts) are pruned after this many days.
NOTIFY_RETENTION_DAYS = env_int("NOTIFY_RETENTION_DAYS", 30, minimum=1)
# Acknowledge links in emails and Slack messages: valid this long, once.
ACK_LINK_TTL = env_duration("ACK_LINK_TTL", "24h")
# After an escalation policy's last level, its wait becomes the reminder interval, this many times.
ESCALATION_MAX_REMINDERS = env_int("ESCALATION_MAX_REMINDERS", 3, minimum=0)
# Escalation roles: one email channel each (created by bootstrap when set).
ONCALL_EMAIL = env_list("ONCALL_EMAIL", [])
TEAM_LEAD_EMAIL = env_list("TEAM_LEAD_EMAIL", [])
ENG_MANAGER_EMAIL = env_list("ENG_MANAGER_EMAIL", [])
# Bootstrap creates the default channels (Email, Slack, PagerDuty, role emails) from the above.
NOTIFY_BOOTSTRAP_CHANNELS = env_bool("NOTIFY_BOOTSTRAP_CHANNELS", True)

# --- silences and maintenance windows (alerts/silences/; documented in docs/silences.md) -------
# The longest a silence or maintenance window may last (days); a longer one is refused (400).
SILENCE_MAX_DAYS = env_int("SILENCE_MAX_DAYS", 30, minimum=1, maximum=366)

# --- Alertmanager-compatible intake (POST /api/v2/alerts; docs/alerts.md) -------------------
# Alerts per request (Prometheus sends at most 64 at a time; vmalert fewer).
ALERT_INTAKE_MAX_ALERTS = env_int("ALERT_INTAKE_MAX_ALERTS", 1000, minimum=1)
# An alert sent without endsAt resolves this long after it was last sent (Alertmanager's
# resolve_timeout); Prometheus and vmalert always send one.
ALERT_INTAKE_RESOLVE_TIMEOUT = env_duration("ALERT_INTAKE_RESOLVE_TIMEOUT", "5m")
