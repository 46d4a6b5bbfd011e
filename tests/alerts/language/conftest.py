"""Stored series written straight into the metric tables, at a frozen instant."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.conf import LazySettings

from alerts.language.planner import selector_kind
from metrics_app import backend as remote
from metrics_app.models import Bucket, Rollup, Series
from tests.alerts.language.backend_scenario import Scenario, build
from tests.support.tsdb import Prometheus, VictoriaMetrics, load

# Evaluations happen at NOW; "minute 0" is the minute holding NOW, "minute 4" four minutes before.
NOW = datetime(2026, 11, 29, 12, 0, 30, tzinfo=UTC)
MINUTE0 = NOW.replace(second=0)


def minute(ago: int) -> datetime:
    return MINUTE0 - timedelta(minutes=ago)


class Store:
    """Builds series, 1-minute buckets and rollups the way ingestion and aggregation store them."""

    def series(
        self,
        name: str,
        labels: dict[str, str] | None = None,
        *,
        value: float = 0.0,
        created: datetime | None = None,
    ) -> Series:
        labels = labels or {}
        created = created or NOW - timedelta(days=60)
        return Series.objects.create(
            name=name,
            family=name.removesuffix("_bucket").removesuffix("_sum").removesuffix("_count"),
            labels=labels,
            labels_key=json.dumps(sorted(labels.items())),
            kind=selector_kind(name),
            value=value,
            value_at=NOW,
            created_at=created,
            updated_at=NOW,
        )

    def bucket(self, series: Series, start: datetime, values: list[float]) -> Bucket:
        return Bucket.objects.create(
            series=series,
            start=start,
            count=len(values),
            sum=sum(values),
            min=min(values),
            max=max(values),
            last=values[-1],
            last_at=start + timedelta(seconds=59),
        )

    def rollup(
        self, series: Series, resolution: int, start: datetime, values: list[float]
    ) -> Rollup:
        return Rollup.objects.create(
            series=series,
            resolution=resolution,
            start=start,
            count=len(values),
            sum=sum(values),
            min=min(values),
            max=max(values),
            last=values[-1],
            last_at=start + timedelta(seconds=resolution - 1),
        )

    def counter(
        self, name: str, labels: dict[str, str] | None = None, **kwargs: Any
    ) -> CounterBuilder:
        return CounterBuilder(self, self.series(name, labels, **kwargs))

    def gauge(self, name: str, labels: dict[str, str] | None = None, **by_minute: Any) -> Series:
        """``gauge("queue_size", {...}, m0=[5, 7], m3=[1])``: samples per minute ago."""
        series = self.series(name, labels)
        for key, values in by_minute.items():
            self.bucket(series, minute(int(key[1:])), list(values))
        return series


class CounterBuilder:
    def __init__(self, store: Store, series: Series) -> None:
        self.store, self.series = store, series

    def add(self, ago: int, *increments: float) -> CounterBuilder:
        """Increments pushed in the minute ``ago`` minutes before NOW (total grows by them)."""
        self.store.bucket(self.series, minute(ago), list(increments))
        self.series.value += sum(increments)
        self.series.save(update_fields=["value"])
        return self


@pytest.fixture
def frozen() -> Iterator[datetime]:
    with time_machine.travel(NOW, tick=False):
        yield NOW


@pytest.fixture
def store(db: Any, frozen: datetime) -> Store:
    return Store()


# --- the metrics backend (issue #20): one scenario, real Prometheus and VictoriaMetrics ----------


@pytest.fixture(scope="module")
def scenario() -> Scenario:
    return build()


@pytest.fixture(scope="module")
def prometheus(
    scenario: Scenario, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Prometheus]:
    with Prometheus(tmp_path_factory.mktemp("prometheus")) as server:
        load(server, scenario.remote)
        yield server


@pytest.fixture(scope="module")
def victoria(
    scenario: Scenario, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[VictoriaMetrics]:
    with VictoriaMetrics(tmp_path_factory.mktemp("victoria")) as server:
        load(server, scenario.remote)
        yield server


class CachingVictoriaMetrics(VictoriaMetrics):
    """VictoriaMetrics with its answer cache on (the default), which moves range queries' start."""

    def command(self) -> list[str]:
        return [flag for flag in super().command() if flag != "-search.disableCache"]


@pytest.fixture(scope="module")
def victoria_cached(
    scenario: Scenario, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[VictoriaMetrics]:
    with CachingVictoriaMetrics(tmp_path_factory.mktemp("victoria-cached")) as server:
        load(server, scenario.remote)
        yield server


@pytest.fixture
def use_backend(settings: LazySettings) -> Callable[[str], None]:
    def point(url: str) -> None:
        settings.METRICS_BACKEND = remote.PROMETHEUS
        settings.METRICS_BACKEND_URL = url

    return point
