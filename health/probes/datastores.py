"""Datastore probes: PostgreSQL (connect, ``SELECT 1``) and Redis (``PING``)."""

from __future__ import annotations

import contextlib
import math
import time

import psycopg
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from health.probes.base import Probe, ProbeResult, ProbeSession, ProbeTarget, register


async def check_postgres(dsn: str, timeout: float) -> ProbeResult:
    started = time.perf_counter()
    # libpq wants whole seconds, at least 2; the round's own deadline is the real bound.
    connect_timeout = max(2, math.ceil(timeout))
    try:
        connection = await psycopg.AsyncConnection.connect(
            dsn, connect_timeout=connect_timeout, autocommit=True
        )
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
    return ProbeResult("up", latency_ms=round((time.perf_counter() - started) * 1000, 2))


async def check_redis(url: str, timeout: float) -> ProbeResult:
    started = time.perf_counter()
    client = aioredis.Redis.from_url(
        url, socket_connect_timeout=timeout, socket_timeout=timeout, retry_on_timeout=False
    )
    try:
        answer = await client.ping()
    except (RedisError, OSError) as exc:
        return ProbeResult.down(f"PING failed: {_first_line(exc)}")
    finally:
        with contextlib.suppress(RedisError, OSError):
            await client.aclose()
    if not answer:
        return ProbeResult.down("PING did not answer PONG")
    return ProbeResult("up", latency_ms=round((time.perf_counter() - started) * 1000, 2))


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


@register
class PostgresProbe(Probe):
    """Connect to PostgreSQL and run ``SELECT 1``."""

    kind = "postgres"
    schemes = ("postgres", "postgresql")
    target_help = "a DSN"

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
