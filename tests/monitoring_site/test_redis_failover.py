"""Redis down is a degraded mode, not an outage (issue #13, item 1).

The cache here points at a port where nothing listens (a real refused connection, as a killed
Redis gives); the outage under running gunicorn and qcluster processes is in test_faults.py.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import caches
from django.test import Client
from django.test.utils import override_settings

from health.models import Service
from health.selectors import detailed_payload
from health.services import record_redis_observation
from monitoring_site import cache as failover
from monitoring_site.cache import FALLBACK_OPERATIONS, FailoverRedisCache
from tests.support.own_servers import OwnRedis, free_port

pytestmark = pytest.mark.django_db


@pytest.fixture
def dead_redis() -> Iterator[str]:
    """A redis:// URL where nothing listens, and a fresh view of Redis for this process."""
    failover.STATE.__init__()  # type: ignore[misc]
    yield f"redis://127.0.0.1:{free_port()}/0"
    failover.STATE.__init__()  # type: ignore[misc]


def make_cache(url: str) -> FailoverRedisCache:
    return FailoverRedisCache(url, {"OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 1, "SOCKET_TIMEOUT": 1}})


def test_with_redis_down_the_cache_answers_from_process_memory_and_counts_it(
    dead_redis: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="monitoring_site.cache")
    cache = make_cache(dead_redis)
    served = FALLBACK_OPERATIONS._value.get()

    cache.set("throttle_user_1", [1.0, 2.0], 60)
    assert cache.get("throttle_user_1") == [1.0, 2.0]
    assert cache.add("counter", 0) is True
    assert cache.incr("counter", 3) == 3
    assert cache.get_many(["throttle_user_1", "counter"]) == {
        "throttle_user_1": [1.0, 2.0],
        "counter": 3,
    }

    assert FALLBACK_OPERATIONS._value.get() == served + 5
    errors = [r.getMessage() for r in caplog.records]
    assert len(errors) == 1 and errors[0].startswith("redis unreachable: the cache and throttles")
    assert failover.STATE.is_down


def test_after_a_failure_redis_is_left_alone_until_the_retry_time(dead_redis: str) -> None:
    cache = make_cache(dead_redis)
    with override_settings(REDIS_RETRY_SECONDS=3600):
        cache.get("a")
        retry_at = failover.STATE.retry_at
        cache.get("b")
    assert failover.STATE.retry_at == retry_at  # the second call did not even try Redis


@pytest.mark.urls("tests.monitoring_site.urls_testing")
def test_throttles_fail_open_to_a_per_process_count_instead_of_answering_500(
    dead_redis: str, client: Client
) -> None:
    caches_setting = {
        "default": {
            "BACKEND": "monitoring_site.cache.FailoverRedisCache",
            "LOCATION": dead_redis,
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 1, "SOCKET_TIMEOUT": 1},
        }
    }
    with override_settings(CACHES=caches_setting):  # Django rebuilds its caches from it
        assert isinstance(caches["default"], FailoverRedisCache)
        statuses = [client.get("/api/test/throttled").status_code for _ in range(4)]
    # The tight test throttle (3/min) still holds, counted in this process's memory.
    assert statuses == [200, 200, 200, 429]


def _redis_dependency() -> dict[str, Any]:
    return detailed_payload()["dependencies"]["redis"]


@override_settings(REDIS_URL="redis://127.0.0.1:6399/0")
def test_a_failure_the_web_tier_met_shows_redis_down_on_health_detailed_and_recovery_clears_it(
    dead_redis: str,
) -> None:
    record_redis_observation(True, "ConnectionError: Connection refused")

    shown = _redis_dependency()
    assert shown["status"] == "down"
    assert shown["error"] == "seen by the web tier: ConnectionError: Connection refused"
    assert detailed_payload()["status"] == "degraded"  # Redis is not critical

    record_redis_observation(False, "")
    assert _redis_dependency()["status"] == "up"
    service = Service.objects.get(slug="monitor-redis")
    assert list(service.results.order_by("checked_at").values_list("outcome", flat=True)) == [
        "down",
        "up",
    ]


@override_settings(REDIS_URL="redis://127.0.0.1:6399/0")
def test_the_cache_tells_health_when_it_meets_redis_down(dead_redis: str) -> None:
    make_cache(dead_redis).get("anything")
    assert _redis_dependency()["status"] == "down"


@pytest.mark.slow
def test_the_first_success_after_an_outage_ends_it(tmp_path: Any) -> None:
    failover.STATE.__init__()  # type: ignore[misc]
    server = OwnRedis(tmp_path)
    cache = make_cache(server.url)
    try:
        cache.set("k", 1)  # nothing listens yet: served locally
        assert failover.STATE.is_down
        server.start()
        failover.STATE.retry_at = 0.0  # the retry time has come
        cache.set("k", 2)
        assert not failover.STATE.is_down
        assert cache.get("k") == 2  # from Redis now
    finally:
        server.stop()
        failover.STATE.__init__()  # type: ignore[misc]
