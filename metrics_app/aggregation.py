"""1-minute buckets -> 5-minute and hourly rollups, recomputed from the buckets (idempotent).

Every run recomputes each period that a late sample could still have changed since the last run
(samples are accepted up to ``METRICS_MAX_SAMPLE_AGE_SECONDS`` late), and, after an outage, every
period since the newest 5-minute rollup. A rollup is replaced only when its values differ, so
running the job twice changes nothing, and a changed rollup is marked for the InfluxDB export.

Each run then records how far the rollups are final (:class:`RollupProgress`): a period that
ended more than ``METRICS_MAX_SAMPLE_AGE_SECONDS`` (plus a margin for ingest transactions still
committing) before the run can receive no new sample, and this run has just recomputed it.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Max, Min
from django.utils import timezone

from metrics_app.models import Bucket, FineBucket, Rollup, RollupProgress
from metrics_app.storage import db_time, is_postgres

logger = logging.getLogger(__name__)

RESOLUTIONS = (Rollup.Resolution.FIVE_MINUTES, Rollup.Resolution.HOUR)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# An ingest request validates a sample's age, then commits: a run must not call final a period
# that a request which started just before it could still write into.
INGEST_COMMIT_MARGIN = timedelta(minutes=1)
PROGRESS_KEY = "rollups"


def floor_to(at: datetime, seconds: int) -> datetime:
    at = at.astimezone(UTC)
    offset = int((at - _EPOCH).total_seconds()) // seconds * seconds
    return _EPOCH + timedelta(seconds=offset)


def ceil_to(at: datetime, seconds: int) -> datetime:
    floor = floor_to(at, seconds)
    return floor if floor == at else floor + timedelta(seconds=seconds)


def _period_sql(seconds: int) -> str:
    if is_postgres():
        return f"to_timestamp(floor(extract(epoch FROM start) / {seconds}) * {seconds})"
    return (
        f"datetime((CAST(strftime('%%s', start) AS INTEGER) / {seconds}) * {seconds}, 'unixepoch')"
    )


def _rollup_sql(seconds: int) -> str:
    period = _period_sql(seconds)
    r = "metrics_app_rollup"
    false = "false" if is_postgres() else "0"
    changed = " OR ".join(
        f"{r}.{column} <> excluded.{column}"
        for column in ("count", "sum", "min", "max", "last", "last_at")
    )
    # Only constants and integers are interpolated; the time range is bound.
    return f"""
        INSERT INTO {r} (series_id, resolution, start, count, sum, min, max, last, last_at,
                         exported)
        SELECT series_id, {seconds}, period, SUM(count), SUM(sum), MIN(min), MAX(max),
               MAX(last_pick), MAX(last_at), {false}
        FROM (
            SELECT series_id, {period} AS period, count, sum, min, max, last_at,
                   FIRST_VALUE(last) OVER (
                       PARTITION BY series_id, {period} ORDER BY last_at DESC, id DESC
                   ) AS last_pick
            FROM metrics_app_bucket
            WHERE start >= %s AND start < %s
        ) AS b
        WHERE true
        GROUP BY series_id, period
        ON CONFLICT (series_id, resolution, start) DO UPDATE SET
            count = excluded.count, sum = excluded.sum, min = excluded.min, max = excluded.max,
            last = excluded.last, last_at = excluded.last_at, exported = {false}
        WHERE {changed}
    """  # noqa: S608


def recompute_window(now: datetime) -> datetime:
    """The start of the oldest period this run must recompute."""
    late = timedelta(seconds=settings.METRICS_MAX_SAMPLE_AGE_SECONDS)
    interval = timedelta(minutes=settings.METRICS_AGGREGATION_INTERVAL_MINUTES)
    since = now - late - 2 * interval
    newest = Rollup.objects.filter(resolution=Rollup.Resolution.FIVE_MINUTES).aggregate(
        at=Max("start")
    )["at"]
    if newest is None:
        newest = Bucket.objects.aggregate(at=Min("start"))["at"]
    if newest is not None and newest < since:
        since = newest
    final = rollups_final_before()
    if final is not None and final < since:
        since = final  # what the last run could not yet call final, this one recomputes
    return since


def rollups_final_before() -> datetime | None:
    """Rollups of periods that start before this instant are final (None: never aggregated)."""
    return (
        RollupProgress.objects.filter(key=PROGRESS_KEY)
        .values_list("final_before", flat=True)
        .first()
    )


def _record_progress(now: datetime) -> None:
    late = timedelta(seconds=settings.METRICS_MAX_SAMPLE_AGE_SECONDS)
    final = floor_to(now - late - INGEST_COMMIT_MARGIN, int(Rollup.Resolution.FIVE_MINUTES))
    progress, created = RollupProgress.objects.select_for_update().get_or_create(
        key=PROGRESS_KEY, defaults={"final_before": final, "updated_at": now}
    )
    if not created and progress.final_before < final:
        progress.final_before, progress.updated_at = final, now
        progress.save(update_fields=["final_before", "updated_at"])


def aggregate_rollups(*, now: datetime | None = None) -> dict[str, int]:
    """Recompute the rollups of every period late samples may have changed; rows changed."""
    now = now or timezone.now()
    since = recompute_window(now)
    with transaction.atomic():
        changed = _recompute(since, now + timedelta(minutes=1))
        _record_progress(now)
    logger.info("rollups recomputed", extra={"since": since.isoformat(), **changed})
    return changed


@transaction.atomic
def recompute_rollups(*, start: datetime, end: datetime) -> dict[str, int]:
    """Recompute the rollups of the periods from ``start`` to ``end`` (a history backfill)."""
    return _recompute(start, end)


def _recompute(since: datetime, end: datetime) -> dict[str, int]:
    changed: dict[str, int] = {}
    for resolution in RESOLUTIONS:
        start = floor_to(since, resolution)
        with connection.cursor() as cursor:
            cursor.execute(_rollup_sql(int(resolution)), [db_time(start), db_time(end)])
            changed[f"{int(resolution)}s"] = max(cursor.rowcount, 0)
    return changed


def prune_fine_buckets(*, now: datetime | None = None) -> int:
    """Delete the 10-second buckets older than ``METRICS_FINE_RETENTION_MINUTES`` (rows deleted).

    The minute buckets hold the same samples, so this is the whole roll-up: run with every
    aggregation (5 minutes), so an hour of them is what is kept, not a day until the cleanup.
    """
    now = now or timezone.now()
    cutoff = now - timedelta(minutes=settings.METRICS_FINE_RETENTION_MINUTES)
    deleted, _ = FineBucket.objects.filter(start__lt=cutoff).delete()
    return deleted
