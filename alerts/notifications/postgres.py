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

from alerts.channels import Receipt
from alerts.models import Notification, NotificationAttempt, NotificationChannel


def _table(model: type) -> str:
    return connection.ops.quote_name(model._meta.db_table)


# The channel travels with the claimed row, so a claim is one round trip.
_CHANNEL_COLUMNS = ("id", "name", "kind", "enabled", "last_sent_at", "failing_since")


def claim(*, now: datetime, lease_until: datetime, token: str) -> Notification | None:
    """Lease the most overdue claimable row to ``token``; the row with its channel, or None."""
    table, channels = _table(Notification), _table(NotificationChannel)
    extra = ", ".join(f"c.{column} AS ch_{column}" for column in _CHANNEL_COLUMNS)
    # Table names are ours; every value is a parameter.
    sql = (
        f"UPDATE {table} AS n SET state = %s, lease_until = %s, claim = %s "  # noqa: S608
        f"FROM {channels} AS c "
        f"WHERE n.id = (SELECT id FROM {table} WHERE state IN (%s, %s) AND due_at <= %s "
        "AND (lease_until IS NULL OR lease_until <= %s) "
        "ORDER BY due_at, id LIMIT 1 FOR UPDATE SKIP LOCKED) AND c.id = n.channel_id "
        f"RETURNING n.*, {extra}, c.config::text AS ch_config"
    )
    state = Notification.State
    params = [state.SENDING, lease_until, token, state.QUEUED, state.SENDING, now, now]
    rows = list(Notification.objects.raw(sql, params))
    if not rows:
        return None
    row = rows[0]
    fields = {column: getattr(row, f"ch_{column}") for column in _CHANNEL_COLUMNS}
    row.channel = NotificationChannel(**fields, config=json.loads(row.ch_config))
    return row


def record_delivery(
    *, row: Notification, receipt: Receipt, now: datetime, duration_ms: float
) -> bool:
    """Mark ``row`` delivered (if its lease is still ours) and insert the attempt; held or not."""
    table, attempts = _table(Notification), _table(NotificationAttempt)
    # A data-modifying WITH runs exactly once, whatever the main statement reads of it.
    sql = (
        f"WITH done AS (UPDATE {table} SET state = %s, delivered_at = %s, "  # noqa: S608
        "lease_until = NULL, attempts = attempts + 1, last_error = '' "
        "WHERE id = %s AND claim = %s RETURNING id) "
        f"INSERT INTO {attempts} (notification_id, channel_id, at, outcome, status, error, "
        "receipt, detail, duration_ms, retry_at) "
        "VALUES (%s, %s, %s, %s, %s, '', %s, %s, %s, NULL) "
        "RETURNING (SELECT count(*) FROM done)"
    )
    params = [
        Notification.State.DELIVERED,
        now,
        row.pk,
        row.claim,
        row.pk,
        row.channel_id,
        now,
        NotificationAttempt.Outcome.DELIVERED,
        receipt.status,
        str(receipt.message_id)[:300],
        receipt.detail[:2000],
        duration_ms,
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        held = cursor.fetchone()[0]
    return bool(held)
