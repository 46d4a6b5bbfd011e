"""Fixtures of the metrics tests: a fixed clock, ingest tokens, a push helper, stored values."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import time_machine
from rest_framework.test import APIClient

from metrics_app import catalogue
from metrics_app.models import Series
from metrics_app.services import create_ingest_token

NOW = datetime(2026, 11, 29, 12, 0, 30, tzinfo=UTC)
INGEST_URL = "/api/v1/metrics/ingest"

Push = Callable[..., Any]


@pytest.fixture(autouse=True)
def _fresh_catalogue() -> Iterator[None]:
    """Admin-registered metrics never leak from one test into the next."""
    catalogue.clear_cache()
    yield
    catalogue.clear_cache()


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    """Users of the cast are created per test; MD5 keeps that fast (hashing is not under test)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def clock() -> Iterator[time_machine.Traveller]:
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def token(db: Any) -> tuple[Any, str]:
    return create_ingest_token(service="payment", name="payment pods")


@pytest.fixture
def ingest_client(token: tuple[Any, str]) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token[1]}")
    return client


@pytest.fixture
def push(ingest_client: APIClient) -> Push:
    """POST samples as the payment service's token; returns the response."""

    def send(samples: list[dict[str, Any]], client: APIClient | None = None) -> Any:
        return (client or ingest_client).post(
            INGEST_URL, json.dumps({"samples": samples}), content_type="application/json"
        )

    return send


def stored(name: str, **labels: str) -> float:
    """The cumulative value of one stored series (labels must match exactly)."""
    from metrics_app.ingest import labels_key

    return Series.objects.get(name=name, labels_key=labels_key(labels)).value


@pytest.fixture
def small_series_limit(settings: Any) -> int:
    settings.METRICS_SERIES_LIMIT = 3
    return 3


__all__ = ["INGEST_URL", "NOW", "Push", "stored"]
