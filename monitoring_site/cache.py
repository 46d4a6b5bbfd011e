"""The Redis cache, failing open to this process's memory while Redis is down.

With Redis killed, every throttle check and the ``/metrics`` cache raised connection errors: the
whole API, ingest and login answered 500. Behind :class:`FailoverRedisCache` (the ``default``
cache whenever ``REDIS_URL`` is set) an operation that meets Redis down is served by a local
memory cache of this process instead: throttles then count per process (a client may get
``workers`` times its rate while the outage lasts) and cached values are per process, but every
request is answered. After a failure Redis is left alone for ``REDIS_RETRY_SECONDS`` (a Redis
that hangs would otherwise cost its socket timeout on every call), then tried again; the first
success ends the outage.

Each process logs an outage once when it starts and once when it ends, counts the operations
its fallback served (``monitoring_cache_fallback_operations_total`` on ``/metrics``), and tells
the listeners registered with :func:`on_redis_change` (``health`` records the failure it met on
the monitor's Redis service, so ``/health/detailed`` shows Redis down while no health round can
run: the rounds need the broker, which is that Redis).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.cache.backends.locmem import LocMemCache
from django_redis.cache import RedisCache
from prometheus_client import Counter
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)

# What "Redis is down" looks like from the client: refused, reset, timed out, still loading.
REDIS_DOWN = (RedisConnectionError, RedisTimeoutError, OSError)
FALLBACK_OPERATIONS = Counter(
    "monitoring_cache_fallback_operations",
    "Cache operations served from a process's local memory because Redis did not answer.",
)
# Called with (down, error text): True when an outage starts (and every REDIS_REPORT_SECONDS
# while it lasts), False when it ends.
Listener = Callable[[bool, str], None]
_listeners: list[Listener] = []


def on_redis_change(listener: Listener) -> None:
    """Call ``listener`` when this process finds Redis down, and again when it is back."""
    if listener not in _listeners:
        _listeners.append(listener)


class RedisState:
    """This process's view of Redis: up, or down since when, and when to try it again."""

    def __init__(self) -> None:
        self.down_since: float | None = None
        self.retry_at = 0.0
        self.reported_at = 0.0
        self.error = ""
        self._lock = threading.Lock()

    @property
    def is_down(self) -> bool:
        return self.down_since is not None

    def worth_trying(self) -> bool:
        return self.down_since is None or time.monotonic() >= self.retry_at

    def failed(self, exc: BaseException) -> None:
        now = time.monotonic()
        error = f"{type(exc).__name__}: {exc}"[:300]
        with self._lock:
            starting = self.down_since is None
            if starting:
                self.down_since = now
            self.retry_at = now + settings.REDIS_RETRY_SECONDS
            report = starting or now - self.reported_at >= settings.REDIS_REPORT_SECONDS
            if report:
                self.reported_at = now
            self.error = error
        if starting:
            logger.error(
                "redis unreachable: the cache and throttles use this process's memory until it "
                "returns (logged once until it recovers): %s",
                error,
            )
        if report:
            _tell(True, error)

    def succeeded(self) -> None:
        if self.down_since is None:
            return
        with self._lock:
            since, self.down_since = self.down_since, None
        if since is not None:
            logger.warning("redis reachable again after %.0f s", time.monotonic() - since)
            _tell(False, "")


def _tell(down: bool, error: str) -> None:
    for listener in list(_listeners):
        try:
            listener(down, error)
        except Exception:  # a listener (a database write) must never fail the cache call
            logger.warning("redis state listener failed", exc_info=True)


STATE = RedisState()


class FailoverRedisCache(RedisCache):
    """django-redis's cache; an operation that meets Redis down is served from local memory."""

    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self.fallback = LocMemCache(
            f"redis-fallback-{id(self)}",
            {"TIMEOUT": params.get("TIMEOUT", 300), "OPTIONS": {"MAX_ENTRIES": 10_000}},
        )

    def _either(self, name: str, *args: Any, **kwargs: Any) -> Any:
        if STATE.worth_trying():
            try:
                result = getattr(super(), name)(*args, **kwargs)
            except REDIS_DOWN as exc:
                STATE.failed(exc)
            else:
                STATE.succeeded()
                return result
        FALLBACK_OPERATIONS.inc()
        return getattr(self.fallback, name)(*args, **kwargs)

    # Every operation Django, DRF and this project use; each falls back the same way.
    def get(self, *args: Any, **kwargs: Any) -> Any:
        return self._either("get", *args, **kwargs)

    def set(self, *args: Any, **kwargs: Any) -> Any:
        return self._either("set", *args, **kwargs)

    def add(self, *args: Any, **kwargs: Any) -> Any:
        return self._either("add", *args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        return self._either("delete", *args, **kwargs)

    def get_many(self, *args: Any, **kwargs: Any) -> Any:
        return self._either("get_many", *args, **kwargs)

    def set_many(self, *args: Any, **kwargs: Any) -> Any:
        return self._either("set_many", *args, **kwargs)

    def delete_many(self, *args: Any, **kwargs: Any) -> Any:
        return self._either("delete_many", *args, **kwargs)

    def incr(self, *args: Any, **kwargs: Any) -> Any:
        return self._either("incr", *args, **kwargs)

    def decr(self, *args: Any, **kwargs: Any) -> Any:
        return self._either("decr", *args, **kwargs)

    def has_key(self, *args: Any, **kwargs: Any) -> Any:
        return self._either("has_key", *args, **kwargs)

    def touch(self, *args: Any, **kwargs: Any) -> Any:
        return self._either("touch", *args, **kwargs)

    def clear(self) -> Any:
        return self._either("clear")
