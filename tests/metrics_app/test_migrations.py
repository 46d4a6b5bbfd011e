"""Migration 0002: series stored before it count against the service named in their labels."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("metrics_app", "0001_initial")]
AFTER = [("metrics_app", "0002_series_service")]
AT = datetime(2026, 11, 29, 12, tzinfo=UTC)


@pytest.fixture
def at_0001(transactional_db: None) -> Iterator[MigrationExecutor]:
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    yield executor
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


def test_existing_series_are_attributed_to_their_service_label(
    at_0001: MigrationExecutor,
) -> None:
    old = at_0001.loader.project_state(BEFORE).apps.get_model("metrics_app", "Series")
    for key, labels in [("a", {"service": "payment", "type": "x"}), ("b", {"type": "y"})]:
        old.objects.create(
            name="errors_total",
            family="errors_total",
            labels=labels,
            labels_key=key,
            kind="counter",
            created_at=AT,
            updated_at=AT,
        )

    executor = MigrationExecutor(connection)
    executor.migrate(AFTER)

    new = executor.loader.project_state(AFTER).apps.get_model("metrics_app", "Series")
    assert dict(new.objects.values_list("labels_key", "service")) == {"a": "payment", "b": ""}
