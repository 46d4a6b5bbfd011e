"""The dispatcher's two hot statements on PostgreSQL, one round trip each.

Claiming (``FOR UPDATE SKIP LOCKED``: concurrent dispatchers skip each other's rows instead of
queueing behind them) and recording a delivery (the row's update and its attempt in one
statement, atomic without a transaction block). Other databases use the ORM paths in
``dispatch``; both are exercised by the same tests on both databases.
"""

from __future__ import annotations

import json
from datetime import datetime

from django.db import connection
from django.db.models import Model

from alerts.channels import Receipt
from alerts.models import Notification, NotificationAttempt, NotificationChannel


def _table(model: type[Model]) -> str:
    return connection.ops.quote_name(model._meta.db_table)


# What a dispatcher needs of the claimed row and of its channel, read in the claim itself.
_ROW_COLUMNS = (
    "id",
    "alert_id",
    "event_id",
    "channel_id",
    "kind",
    "escalation_level",
    "state",
    "due_at",
    "lease_until",
    "claim",
    "attempts",
    "created_at",
)
_CHANNEL_COLUMNS = (
    "id",
    "name",
    "kind",
    "enabled",
    "last_sent_at",
    "failing_since",
    "paused_until",
)


def claim(*, now: datetime, lease_until: datetime, token: str) -> Notification | None:
    """Lease the most overdue claimable row to ``token``; the row with its channel, or None.

    The returned objects carry only the columns dispatching reads; they are never saved.
    """
    table, channels = _table(Notification), _table(NotificationChannel)
    columns = ", ".join(
        [f"n.{c}" for c in _ROW_COLUMNS]
        + ["n.payload::text"]
        + [f"c.{c}" for c in _CHANNEL_COLUMNS]
        + ["c.config::text"]
    )
    # Table names are ours; every value is a parameter.
    sql = (
        f"UPDATE {table} AS n SET state = %s, lease_until = %s, claim = %s "  # noqa: S608
        f"FROM {channels} AS c "
        f"WHERE n.id = (SELECT id FROM {table} WHERE state IN (%s, %s) AND due_at <= %s "
        "AND (lease_until IS NULL OR lease_until <= %s) "
        "ORDER BY due_at, id LIMIT 1 FOR UPDATE SKIP LOCKED) AND c.id = n.channel_id "
        f"RETURNING {columns}"
    )
    state = Notification.State
    params: list[str | datetime] = [
        state.SENDING,
        lease_until,
        token,
        state.QUEUED,
        state.SENDING,
        now,
        now,
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        found = cursor.fetchone()
    if found is None:
        return None
    values = list(found)
    row = Notification(**dict(zip(_ROW_COLUMNS, values[: len(_ROW_COLUMNS)], strict=True)))
    row.payload = json.loads(values[len(_ROW_COLUMNS)])
    rest = values[len(_ROW_COLUMNS) + 1 :]
    channel = dict(zip(_CHANNEL_COLUMNS, rest[: len(_CHANNEL_COLUMNS)], strict=True))
    row.channel = NotificationChannel(**channel, config=json.loads(rest[-1]))
    return row


def start_attempt(*, row: Notification, now: datetime, interrupted_error: str) -> int | None:
    """Count an attempt (if the lease is still ours), close attempts a dead dispatcher left in
    flight, and insert this one in flight: one statement. Its id, or None (the lease was lost)."""
    table, attempts = _table(Notification), _table(NotificationAttempt)
    outcome = NotificationAttempt.Outcome
    # Data-modifying WITHs run exactly once, whatever the main statement reads of them.
    sql = (
        f"WITH bumped AS (UPDATE {table} SET attempts = attempts + 1 "  # noqa: S608
        "WHERE id = %s AND claim = %s RETURNING id), "
        f"stale AS (UPDATE {attempts} SET outcome = %s, error = %s "
        "WHERE notification_id IN (SELECT id FROM bumped) AND outcome = %s RETURNING id) "
        f"INSERT INTO {attempts} (notification_id, channel_id, at, outcome, status, error, "
        "receipt, detail, duration_ms, retry_at) "
        "SELECT id, %s, %s, %s, NULL, '', '', '', 0, NULL FROM bumped RETURNING id"
    )
    params: list[str | int | datetime | None] = [
        row.pk,
        row.claim,
        outcome.INTERRUPTED,
        interrupted_error,
        outcome.IN_FLIGHT,
        row.channel_id,
        now,
        outcome.IN_FLIGHT,
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        found = cursor.fetchone()
    return None if found is None else int(found[0])


def record_delivery(
    *, row: Notification, receipt: Receipt, now: datetime, duration_ms: float, attempt_id: int
) -> bool:
    """Mark ``row`` delivered (if its lease is still ours) and close its attempt; held or not."""
    table, attempts = _table(Notification), _table(NotificationAttempt)
    # A data-modifying WITH runs exactly once, whatever the main statement reads of it.
    sql = (
        f"WITH done AS (UPDATE {table} SET state = %s, delivered_at = %s, "  # noqa: S608
        "lease_until = NULL, last_error = '' "
        "WHERE id = %s AND claim = %s RETURNING id) "
        f"UPDATE {attempts} SET outcome = %s, status = %s, receipt = %s, detail = %s, "
        "duration_ms = %s WHERE id = %s "
        "RETURNING (SELECT count(*) FROM done)"
    )
    params: list[str | int | float | datetime | None] = [
        Notification.State.DELIVERED,
        now,
        row.pk,
        row.claim,
        NotificationAttempt.Outcome.DELIVERED,
        receipt.status,
        str(receipt.message_id)[:300],
        receipt.detail[:2000],
        duration_ms,
        attempt_id,
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        found = cursor.fetchone()
    return bool(found and found[0])
