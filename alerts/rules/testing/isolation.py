"""The store rule tests run in: the live database's tables, empty, on a connection of their own.

The tests must use the real evaluator and lifecycle, whose queries read and write through
``django.db.connection``, yet never see or touch the live series and alerts. So the work runs in
a thread of its own whose default connection is replaced by one to a throwaway store:

- SQLite: a private in-memory database, built from the live database's own ``CREATE``
  statements (``sqlite_master``), so every table, index and constraint is the same;
- PostgreSQL: a schema made for the run (``ruletest_<random>``) holding a copy of every table of
  the live schema (``CREATE TABLE ... (LIKE ... INCLUDING ALL)``: columns, defaults, identity,
  checks, unique indexes; foreign keys are not copied), alone on the connection's
  ``search_path``, so an unqualified table name can only mean the copy.

Everything happens in one transaction that is always rolled back: the schema disappears with
it, even when the process dies mid-run, and callbacks waiting for a commit (waking the
notification dispatcher, shipping alert events) never run. The connection is marked
``private_store``: metrics_app then takes no advisory lock for new series (those keys are
database-wide, and the run would wait on, or hold up, live ingest). Each test runs in a
savepoint rolled back after it, so every test starts from the empty store.
"""

from __future__ import annotations

import copy
import logging
import threading
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.utils import load_backend

from metrics_app.models import MetricDefinition

T = TypeVar("T")
THREAD_NAME = "rule-tests"


class _QuietRuleTests(logging.Filter):
    """Drops the records of the isolated run: its alerts and rules exist nowhere else, and
    logs (or shipped log documents) about them would mislead whoever reads them."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.threadName != THREAD_NAME


QUIET = _QuietRuleTests()


def _quieten_handlers() -> None:
    for handler in logging.getLogger().handlers:
        if QUIET not in handler.filters:
            handler.addFilter(QUIET)


def run_isolated(work: Callable[[], T]) -> T:
    """``work()`` on an empty copy of the store, in a transaction that is rolled back."""
    live = connections[DEFAULT_DB_ALIAS]
    vendor = live.vendor
    if vendor not in ("sqlite", "postgresql"):
        raise NotImplementedError(f"rule tests need SQLite or PostgreSQL, not {vendor}")
    ddl = _sqlite_schema(live) if vendor == "sqlite" else []
    # The metric catalogue's registered metrics are configuration, not data: the copy knows them
    # (and the catalogue's process-wide cache, refreshed inside the run, stays right).
    definitions = list(MetricDefinition.objects.values())
    settings_dict = copy.deepcopy(live.settings_dict)
    if vendor == "sqlite":
        settings_dict["NAME"] = ":memory:"
    outcome: dict[str, Any] = {}

    def target() -> None:
        wrapper = _wrapper(settings_dict)
        connections[DEFAULT_DB_ALIAS] = wrapper  # this thread only (connections are local)
        try:
            with transaction.atomic():
                if vendor == "sqlite":
                    _build_sqlite(wrapper, ddl)
                else:
                    _build_postgres(wrapper)
                MetricDefinition.objects.bulk_create(
                    [MetricDefinition(**row) for row in definitions]
                )
                try:
                    outcome["value"] = work()
                finally:
                    transaction.set_rollback(True)
        except BaseException as exc:  # handed to the caller's thread
            outcome["error"] = exc
        finally:
            _close(wrapper)

    _quieten_handlers()
    thread = threading.Thread(target=target, name=THREAD_NAME, daemon=True)
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def _wrapper(settings_dict: dict[str, Any]) -> BaseDatabaseWrapper:
    backend = load_backend(settings_dict["ENGINE"])
    wrapper: BaseDatabaseWrapper = backend.DatabaseWrapper(settings_dict, DEFAULT_DB_ALIAS)
    # Read by metrics_app.storage: nobody else writes here, so no database-wide advisory lock.
    wrapper.private_store = True  # type: ignore[attr-defined]
    return wrapper


def _close(wrapper: BaseDatabaseWrapper) -> None:
    # Django keeps in-memory SQLite databases open on close(): close the DB-API connection itself.
    raw = wrapper.connection
    if raw is not None:
        raw.close()
        wrapper.connection = None


def _sqlite_schema(live: BaseDatabaseWrapper) -> list[str]:
    with live.cursor() as cursor:
        cursor.execute(
            "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' "
            "ORDER BY CASE type WHEN 'table' THEN 0 WHEN 'index' THEN 1 ELSE 2 END, name"
        )
        return [row[0] for row in cursor.fetchall()]


def _build_sqlite(wrapper: BaseDatabaseWrapper, ddl: list[str]) -> None:
    with wrapper.cursor() as cursor:
        for statement in ddl:
            cursor.execute(statement)


def _build_postgres(wrapper: BaseDatabaseWrapper) -> None:
    quote = wrapper.ops.quote_name
    schema = f"ruletest_{uuid.uuid4().hex[:16]}"
    with wrapper.cursor() as cursor:
        cursor.execute("SELECT current_schema()")
        live_schema = cursor.fetchone()[0]
        cursor.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = %s ORDER BY tablename",
            [live_schema],
        )
        tables = [row[0] for row in cursor.fetchall()]
        cursor.execute(f"CREATE SCHEMA {quote(schema)}")
        for table in tables:
            cursor.execute(
                f"CREATE TABLE {quote(schema)}.{quote(table)} "
                f"(LIKE {quote(live_schema)}.{quote(table)} INCLUDING ALL)"
            )
        # SET LOCAL lasts until the transaction ends; it is set outside any savepoint.
        cursor.execute(f"SET LOCAL search_path TO {quote(schema)}")
