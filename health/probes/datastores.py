"""Datastore probes: PostgreSQL (connect, ``SELECT 1``) and Redis (``PING``)."""

from __future__ import annotations

import contextlib
import math
import time

import psycopg
import redis.asyncio as aioredis
from psycopg.conninfo import conninfo_to_dict
from redis.exceptions import RedisError

from health.outcomes import Outcome
from health.probes.base import Probe, ProbeResult, ProbeSession, ProbeTarget, register
from health.probes.guard import guarded_conninfo, guarded_redis_class
from monitoring_site.netguard import BlockedAddress


async def check_postgres(dsn: str, timeout: float, *, guarded: bool = True) -> ProbeResult:
    """Connect and ``SELECT 1``; ``guarded`` is off only for the monitor's own database (the
    DSN comes from its settings, not from a row an admin edits)."""
    started = time.perf_counter()
    # libpq wants whole seconds, at least 2; the round's own deadline is the real bound.
    connect_timeout = max(2, math.ceil(timeout))
    try:
        conninfo = await guarded_conninfo(dsn) if guarded else dsn
        connection = await psycopg.AsyncConnection.connect(
            conninfo, connect_timeout=connect_timeout, autocommit=True
        )
    except BlockedAddress as exc:
        return ProbeResult.down(str(exc))
    except (psycopg.Error, OSError) as exc:
        return ProbeResult.down(f"connection failed: {_first_line(exc)}")
    try:
        cursor = await connection.execute("SELECT 1")
        await cursor.fetchone()
    except psycopg.Error as exc:
        return ProbeResult.down(f"SELECT 1 failed: {_first_line(exc)}")
    finally:
        with contextlib.suppress(psycopg.Error, OSError):
            await connection.close()
    return ProbeResult(Outcome.UP, latency_ms=round((time.perf_counter() - started) * 1000, 2))


async def check_redis(url: str, timeout: float, *, guarded: bool = True) -> ProbeResult:
    """``PING``; ``guarded`` is off only for the monitor's own Redis (from its settings)."""
    started = time.perf_counter()
    pool = aioredis.ConnectionPool.from_url(
        url, socket_connect_timeout=timeout, socket_timeout=timeout, retry_on_timeout=False
    )
    if guarded:
        # Set on the pool: from_url lets the URL's scheme override a connection_class argument.
        pool.connection_class = guarded_redis_class(url)
    client = aioredis.Redis.from_pool(pool)
    try:
        answer = await client.ping()
    except BlockedAddress as exc:
        return ProbeResult.down(str(exc))
    except (RedisError, OSError) as exc:
        return ProbeResult.down(f"PING failed: {_first_line(exc)}")
    finally:
        with contextlib.suppress(RedisError, OSError):
            await client.aclose()
    if not answer:
        return ProbeResult.down("PING did not answer PONG")
    return ProbeResult(Outcome.UP, latency_ms=round((time.perf_counter() - started) * 1000, 2))


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


@register
class PostgresProbe(Probe):
    """Connect to PostgreSQL and run ``SELECT 1``."""

    kind = "postgres"
    schemes = ("postgres", "postgresql")
    target_help = "a DSN"

    @classmethod
    def hosts_of(cls, target: str) -> list[str]:
        try:
            params = conninfo_to_dict(target)
        except psycopg.ProgrammingError:
            raise ValueError("the DSN cannot be parsed") from None
        hosts = [str(params.get(key) or "") for key in ("host", "hostaddr")]
        return [host for value in hosts for host in value.split(",") if host]

    async def check(self, target: ProbeTarget, session: ProbeSession) -> ProbeResult:
        return await check_postgres(target.target, target.timeout)


@register
class RedisProbe(Probe):
    """``PING`` a Redis server."""

    kind = "redis"
    schemes = ("redis", "rediss")
    target_help = "a redis:// URL"

    async def check(self, target: ProbeTarget, session: ProbeSession) -> ProbeResult:
        return await check_redis(target.target, target.timeout)
