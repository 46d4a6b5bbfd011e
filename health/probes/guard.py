"""The address guard at connect time, for every client a probe uses.

Targets are validated when they are saved, but a name can resolve to the metadata service when a
probe runs (DNS rebinding), and an HTTP redirect can point anywhere. So each client resolves the
name itself, checks every address against the health policy (``monitoring_site.netguard``) and
connects to a checked address: httpx through a network backend, TCP and Redis through
``asyncio.open_connection`` on the checked address, PostgreSQL through libpq's ``hostaddr``.
TLS still verifies the certificate against the host name.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Iterable
from typing import Any

import httpcore
import httpx
import redis.asyncio as aioredis
from psycopg.conninfo import conninfo_attempts_async, conninfo_to_dict, make_conninfo

from monitoring_site.netguard import (
    BlockedAddress,
    checked_addresses_async,
    health_policy,
    literal_address_refusal,
)


async def checked_ips(host: str, port: int) -> list[str]:
    """The addresses of ``host``, every one allowed for health targets (else BlockedAddress)."""
    infos = await checked_addresses_async(host, port, health_policy())
    return list(dict.fromkeys(info[4][0] for info in infos))


async def open_connection(
    host: str, port: int, *, ssl_context: ssl.SSLContext | None = None, **kwargs: Any
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """``asyncio.open_connection`` to a checked address of ``host``, trying each in turn."""
    last_error: OSError | None = None
    for address in await checked_ips(host, port):
        try:
            if ssl_context is None:
                return await asyncio.open_connection(address, port, **kwargs)
            return await asyncio.open_connection(
                address, port, ssl=ssl_context, server_hostname=host, **kwargs
            )
        except OSError as exc:
            last_error = exc
    raise last_error or OSError(f"{host} resolved to no address")


# --- httpx (HTTP and Solana RPC probes) ----------------------------------------------------------


class GuardedNetworkBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend, connecting only to checked addresses (redirects included:
    every hop opens its connection here). TLS gets the URL's host name from httpcore itself."""

    def __init__(self, inner: httpcore.AsyncNetworkBackend) -> None:
        self._inner = inner

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        last_error: Exception | None = None
        for address in await checked_ips(host, port):
            try:
                return await self._inner.connect_tcp(
                    address, port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last_error = exc
        raise last_error or httpcore.ConnectError(f"{host} resolved to no address")

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.AsyncNetworkStream:
        raise BlockedAddress(path, path, "a unix socket")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def guarded_transport(**kwargs: Any) -> httpx.AsyncHTTPTransport:
    """An httpx transport whose every connection passes the guard."""
    transport = httpx.AsyncHTTPTransport(**kwargs)
    # httpx builds its httpcore pool without exposing the network backend: swap it in place.
    # tests/health/test_target_guard.py fails loudly if an upgrade moves this attribute.
    pool = transport._pool
    pool._network_backend = GuardedNetworkBackend(pool._network_backend)
    return transport


# --- Redis ---------------------------------------------------------------------------------------


class _GuardedRedisMixin:
    """redis-py opens its socket with ``asyncio.open_connection(**_connection_arguments())``:
    resolve and check first, then hand it a checked address (and the name for TLS)."""

    _checked_address: str | None = None

    async def _connect(self) -> None:
        self._checked_address = (await checked_ips(self.host, self.port))[0]  # type: ignore[attr-defined]
        await super()._connect()  # type: ignore[misc]

    def _connection_arguments(self) -> Any:
        arguments = dict(super()._connection_arguments())  # type: ignore[misc]
        if self._checked_address is not None:
            if arguments.get("ssl"):
                arguments["server_hostname"] = arguments["host"]
            arguments["host"] = self._checked_address
        return arguments


class GuardedRedisConnection(_GuardedRedisMixin, aioredis.Connection):
    pass


class GuardedRedisSSLConnection(_GuardedRedisMixin, aioredis.SSLConnection):
    pass


def guarded_redis_class(url: str) -> type[aioredis.Connection]:
    return GuardedRedisSSLConnection if url.startswith("rediss:") else GuardedRedisConnection


# --- PostgreSQL --------------------------------------------------------------------------------


async def guarded_conninfo(dsn: str) -> str:
    """``dsn`` with ``hostaddr`` set to checked addresses, so libpq connects to nothing else.

    psycopg resolves every host of a (multi-host) DSN into attempts; each attempt's address is
    checked, a ``hostaddr`` written in the DSN included.
    """
    attempts = await conninfo_attempts_async(conninfo_to_dict(dsn))
    for attempt in attempts:
        address = str(attempt.get("hostaddr") or "")
        reason = literal_address_refusal(address, health_policy()) if address else None
        if reason is not None:
            raise BlockedAddress(str(attempt.get("host") or address), address, reason)
    params = conninfo_to_dict(dsn)
    params.pop("hostaddr", None)
    for key in ("host", "hostaddr", "port"):
        values = [str(attempt.get(key) or "") for attempt in attempts]
        if any(values):
            params[key] = ",".join(values)
    return make_conninfo("", **params)
