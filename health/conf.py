"""Settings of health, read from the environment (imported into monitoring_site.settings)."""

from __future__ import annotations

from monitoring_site.env import env_bool, env_float, env_int, env_networks, env_renamed, env_url

HEALTH_CHECK_INTERVAL_MINUTES = env_int("HEALTH_CHECK_INTERVAL_MINUTES", 1, minimum=1, maximum=60)
# One round's overall deadline (seconds): every probe is cancelled when it passes.
HEALTH_ROUND_DEADLINE = env_float("HEALTH_ROUND_DEADLINE", 5.0, minimum=0.1)
HEALTH_PUBLIC = env_bool("HEALTH_PUBLIC", True)
DASHBOARD_PUBLIC = env_bool("DASHBOARD_PUBLIC", False)

# Raw check results are kept this many days; hourly uptime rollups and state changes a year.
# HEALTH_RESULT_RETENTION (no unit) is the deprecated former name, still read with a warning.
HEALTH_RESULT_RETENTION_DAYS = env_int(
    env_renamed("HEALTH_RESULT_RETENTION_DAYS", old="HEALTH_RESULT_RETENTION"), 30, minimum=1
)
HEALTH_RESULT_RETENTION = HEALTH_RESULT_RETENTION_DAYS  # deprecated alias of the setting
HEALTH_UPTIME_RETENTION_DAYS = env_int("HEALTH_UPTIME_RETENTION_DAYS", 365, minimum=1)
HEALTH_STATE_CHANGE_RETENTION_DAYS = env_int("HEALTH_STATE_CHANGE_RETENTION_DAYS", 365, minimum=1)
# The largest health response body read from a service; a longer one is a failure.
HEALTH_MAX_BODY_BYTES = env_int("HEALTH_MAX_BODY_BYTES", 65_536, minimum=256, maximum=10_485_760)
# The worker cluster counts as down when no job run started within this many seconds.
HEALTH_WORKER_STALE_SECONDS = env_int("HEALTH_WORKER_STALE_SECONDS", 120, minimum=30)

# How often the dashboard fetches fresh data, in seconds.
HEALTH_DASHBOARD_REFRESH_SECONDS = env_int("HEALTH_DASHBOARD_REFRESH_SECONDS", 10, minimum=2)

# The platform's services (defaults in health/platform.py) and datastores, seeded by bootstrap.
_SERVICE_URL_NAMES = (
    "AUTH_SERVICE_URL",
    "VENUE_SERVICE_URL",
    "EVENT_SERVICE_URL",
    "TICKET_SERVICE_URL",
    "PAYMENT_SERVICE_URL",
    "MARKETPLACE_SERVICE_URL",
    "ANALYTICS_SERVICE_URL",
    "NOTIFICATION_SERVICE_URL",
    "INTEGRATION_SERVICE_URL",
    "COMPLIANCE_SERVICE_URL",
    "QUEUE_SERVICE_URL",
    "SEARCH_SERVICE_URL",
    "FILE_SERVICE_URL",
    "BLOCKCHAIN_SERVICE_URL",
    "ORDER_SERVICE_URL",
    "MINTING_SERVICE_URL",
    "TRANSFER_SERVICE_URL",
    "MONITORING_SERVICE_URL",
    "SCANNING_SERVICE_URL",
    "BLOCKCHAIN_INDEXER_URL",
    "API_GATEWAY_URL",
)
PLATFORM_SERVICE_URLS = {name: env_url(name) for name in _SERVICE_URL_NAMES}
PLATFORM_DATABASE_URL = env_url("PLATFORM_DATABASE_URL", schemes=("postgres", "postgresql"))
PLATFORM_REDIS_URL = env_url("PLATFORM_REDIS_URL", schemes=("redis", "rediss"))
SOLANA_RPC_URL = env_url("SOLANA_RPC_URL")

# Networks health targets may reach although they are link-local, multicast or reserved (CIDRs,
# comma-separated). Private networks and loopback need no entry; cloud metadata addresses are
# refused whatever this says (docs/security.md, "Outbound connections").
HEALTH_ALLOWED_NETWORKS = env_networks("HEALTH_ALLOWED_NETWORKS")
