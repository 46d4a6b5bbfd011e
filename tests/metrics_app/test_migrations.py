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


# Migration 0007: the indexes a batch paid for and no query needs are gone, the rest stay.
BEFORE_INDEXES = [("metrics_app", "0006_fine_buckets")]
AFTER_INDEXES = [("metrics_app", "0007_ingest_indexes")]
DROPPED = [("metrics_app_bucket", "series_id"), ("metrics_app_finebucket", "series_id"),
           ("metrics_app_series", "updated_at")]  # fmt: skip


def _plain_indexes(table: str, column: str) -> list[str]:
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, table)
    return [
        name
        for name, info in constraints.items()
        if info["index"] and not info["unique"] and info["columns"] == [column]
    ]


def _unique_on(table: str, columns: list[str]) -> bool:
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, table)
    return any(info["unique"] and info["columns"] == columns for info in constraints.values())


def _references_series(table: str) -> bool:
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, table)
    return any(
        info["foreign_key"] == ("metrics_app_series", "id") and info["columns"] == ["series_id"]
        for info in constraints.values()
    )


@pytest.mark.django_db(transaction=True)
def test_the_ingest_indexes_go_and_come_back_and_nothing_else_changes() -> None:
    executor = MigrationExecutor(connection)
    try:
        executor.migrate(BEFORE_INDEXES)
        assert all(_plain_indexes(table, column) for table, column in DROPPED)

        executor = MigrationExecutor(connection)
        executor.migrate(AFTER_INDEXES)
        assert [_plain_indexes(table, column) for table, column in DROPPED] == [[], [], []]
        # What serves the lookups by series, and the integrity, are still there.
        for table in ("metrics_app_bucket", "metrics_app_finebucket"):
            assert _unique_on(table, ["series_id", "start"])
            assert _plain_indexes(table, "start")
            assert _references_series(table)
        assert _unique_on("metrics_app_series", ["name", "labels_key"])

        executor = MigrationExecutor(connection)
        executor.migrate(BEFORE_INDEXES)
        assert all(_plain_indexes(table, column) for table, column in DROPPED)
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
