"""Fixtures of the health tests: live platform servers on 127.0.0.1 and service builders."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from health.models import Service
from tests.health.servers import PlatformServer

POSTGRES_URL = os.environ.get(
    "HEALTH_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("HEALTH_TEST_REDIS_URL", "redis://127.0.0.1:6379/2")


@pytest.fixture(scope="module")
def platform() -> Iterator[PlatformServer]:
    server = PlatformServer().start()
    yield server
    server.stop()


@pytest.fixture
def make_service(db: Any) -> Callable[..., Service]:
    def make(slug: str, target: str = "http://127.0.0.1:9", **extra: Any) -> Service:
        depends_on = extra.pop("depends_on", [])
        fields = {"name": slug.title(), "kind": "http", "health_path": "", "timeout": 2.0}
        fields.update(extra)
        service = Service.objects.create(slug=slug, target=target, **fields)
        if depends_on:
            service.depends_on.set(depends_on)
        return service

    return make
