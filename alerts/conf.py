"""Settings of alerts, read from the environment (imported into monitoring_site.settings).

``RULE_EVALUATION_INTERVAL_MINUTES`` itself is read in ``monitoring_site.settings``.
"""

from __future__ import annotations

from monitoring_site.env import env_int

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

# --- channels (alerts/channels/; documented in docs/channels.md) ---------------------------------
from monitoring_site.env import env_float as _env_float  # noqa: E402
from monitoring_site.env import env_networks as _env_networks  # noqa: E402

# Timeouts of one vendor call (seconds): connecting, and waiting for each read of the answer.
# The outbox lease must outlast CHANNEL_CONNECT_TIMEOUT + CHANNEL_READ_TIMEOUT.
CHANNEL_CONNECT_TIMEOUT = _env_float("CHANNEL_CONNECT_TIMEOUT", 5.0, minimum=0.1)
CHANNEL_READ_TIMEOUT = _env_float("CHANNEL_READ_TIMEOUT", 10.0, minimum=0.1)
# Networks a webhook or Slack URL may reach even though they are private (CIDRs, comma-separated),
# e.g. an internal receiver; everything else private stays refused unless WEBHOOK_ALLOW_PRIVATE.
WEBHOOK_ALLOWED_NETWORKS = _env_networks("WEBHOOK_ALLOWED_NETWORKS")
