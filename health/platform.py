"""The TicketToken platform as the monitor knows it by default (docs/health.md, "Seeding")."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PlatformService:
    slug: str
    name: str
    variable: str
    default_url: str
    critical: bool = False
    depends_on: tuple[str, ...] = ()
    health_path: str = "/health"


# The ``monitoring`` entry is this service itself. Its DESIGN default (monitoring-service:3017)
# resolves only inside the platform's network, so by default it points at the site's own URL;
# and it is probed at ``/status`` (liveness: the process answers and reaches its database), not
# ``/health``, which turns 503 whenever a critical service is down and would show the monitor
# itself down during every outage it reports.
SELF_SLUG = "monitoring"
SELF_HEALTH_PATH = "/status"


def _service(
    slug: str, port: int, *, critical: bool = False, depends_on: tuple[str, ...] = ()
) -> PlatformService:
    variable = f"{slug.upper().replace('-', '_')}_SERVICE_URL"
    return PlatformService(
        slug=slug,
        name=slug.replace("-", " ").title(),
        variable=variable,
        default_url=f"http://{slug}-service:{port}",
        critical=critical,
        depends_on=depends_on,
    )


PLATFORM_SERVICES: tuple[PlatformService, ...] = (
    _service("auth", 3000, critical=True),
    _service("venue", 3001),
    _service("event", 3002, critical=True, depends_on=("venue",)),
    _service("ticket", 3003, critical=True, depends_on=("event",)),
    _service("payment", 3004, critical=True),
    _service("marketplace", 3005, depends_on=("payment", "ticket")),
    _service("analytics", 3006),
    _service("notification", 3007, depends_on=("queue",)),
    _service("integration", 3008),
    _service("compliance", 3009),
    _service("queue", 3010),
    _service("search", 3011),
    _service("file", 3012),
    _service("blockchain", 3013, critical=True, depends_on=("solana",)),
    _service("order", 3014, critical=True, depends_on=("payment", "ticket")),
    _service("minting", 3015, critical=True, depends_on=("blockchain",)),
    _service("transfer", 3016, depends_on=("blockchain",)),
    PlatformService(
        slug=SELF_SLUG,
        name="Monitoring",
        variable="MONITORING_SERVICE_URL",
        default_url="http://monitoring-service:3017",  # used only where SITE_URL says nothing
        health_path=SELF_HEALTH_PATH,
    ),
    _service("scanning", 3018, depends_on=("ticket",)),
    PlatformService(
        slug="blockchain-indexer",
        name="Blockchain Indexer",
        variable="BLOCKCHAIN_INDEXER_URL",
        default_url="http://blockchain-indexer:3019",
        depends_on=("blockchain",),
    ),
    PlatformService(
        slug="api-gateway",
        name="API Gateway",
        variable="API_GATEWAY_URL",
        default_url="http://api-gateway:3020",
        critical=True,
    ),
)


@dataclass(frozen=True)
class PlatformDatastore:
    slug: str
    name: str
    kind: str
    setting: str


PLATFORM_DATASTORES: tuple[PlatformDatastore, ...] = (
    PlatformDatastore(
        "platform-postgres", "Platform PostgreSQL", "postgres", "PLATFORM_DATABASE_URL"
    ),
    PlatformDatastore("platform-redis", "Platform Redis", "redis", "PLATFORM_REDIS_URL"),
    PlatformDatastore("solana", "Solana RPC", "solana_rpc", "SOLANA_RPC_URL"),
)
