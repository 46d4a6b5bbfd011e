"""Settings of health, read from the environment (imported into monitoring_site.settings).

HEALTH_CHECK_INTERVAL_MINUTES, HEALTH_ROUND_DEADLINE, HEALTH_PUBLIC and DASHBOARD_PUBLIC are read
in monitoring_site.settings; the rest of the health block lives here.
"""

from __future__ import annotations

from monitoring_site.env import env_int, env_networks, env_url

# Raw check results are kept this many days; hourly uptime rollups and state changes a year.
HEALTH_RESULT_RETENTION = env_int("HEALTH_RESULT_RETENTION", 30, minimum=1)
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
