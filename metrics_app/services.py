"""Writes of metrics_app: storing samples, ingest tokens."""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from metrics_app import forwarding, storage
from metrics_app.errors import SeriesLimitExceeded, TotalWouldOverflow
from metrics_app.ingest import Batch, Sample, aggregate, overflowing, series_of
from metrics_app.models import IngestToken

logger = logging.getLogger(__name__)

TOKEN_PREFIX = "mtk_"  # noqa: S105 (the public prefix, not a secret)
_PUBLIC_CHARS = 8
LAST_USED_RESOLUTION = timedelta(minutes=1)


def store_samples(
    *, samples: Sequence[Sample], now: datetime | None = None, service: str | None = None
) -> int:
    """Store validated samples: series totals and minute buckets, a constant number of queries.

    ``service`` is the pushing ingest token's: the label sets it creates count against its share.
    Raises ``SeriesLimitExceeded`` (and stores nothing) when the batch would give a metric more
    label sets than ``METRICS_SERIES_LIMIT``, or the service more of a metric's label sets than
    ``METRICS_MAX_SERIES_PER_SERVICE``; and ``TotalWouldOverflow`` when a stored total would
    overflow to infinity.
    """
    now = now or timezone.now()
    batch = aggregate(samples, service=service or "")
    if not batch.series:
        return 0
    over = overflowing(batch)
    if over:
        raise _overflow_error(samples, over)
    try:
        _write_batch(batch, now=now, service=service)
    except storage.Overflow as exc:
        raise _overflow_error(samples, exc.keys or storage.overflowing_keys(batch)) from None
    return batch.samples


def store_batch(*, batch: Batch, now: datetime | None = None) -> int:
    """Store a batch built directly (the demo's history backfill), with the same limits.

    Unlike the ingest API this accepts any sample time: history is written in the past. Raises
    ``SeriesLimitExceeded`` like :func:`store_samples` (``storage.Overflow`` is not expected
    from generated traffic and is left to surface).
    """
    if not batch.series:
        return 0
    _write_batch(batch, now=now or timezone.now(), service=batch.service or None)
    return batch.samples


def _write_batch(batch: Batch, *, now: datetime, service: str | None) -> None:
    with transaction.atomic():
        ids, stored_now = storage.upsert_series(batch, now=now)
        new = {key: family for key, family in batch.primary.items() if key in stored_now}
        if new:
            # Checked after the write, under the families' lock: a second writer adding to the
            # same family waits here and then counts this one's series (committed by then).
            storage.lock_families(new.values())
            _check_series_limits(new, service=service)
        fine_since = now - timedelta(minutes=settings.METRICS_FINE_RETENTION_MINUTES)
        storage.upsert_buckets(batch, ids, fine_since=fine_since)
        if forwarding.enabled():
            forwarding.queue_series(ids=ids.values(), now=now)


def _overflow_error(samples: Sequence[Sample], over: set[tuple[str, str]]) -> TotalWouldOverflow:
    """The error naming, for each series that would overflow, the last sample adding to it."""
    last: dict[tuple[str, str], int] = {}
    for index, sample in enumerate(samples):
        for series in series_of(sample):
            if series in over:
                last[series] = index
    details = {
        str(index): f"value: the total of {name}{{{key}}} would overflow"
        for (name, key), index in sorted(last.items(), key=lambda item: item[1])
    } or {str(len(samples) - 1): "value: a stored total would overflow"}
    where, problem = next(iter(details.items()))
    return TotalWouldOverflow(f"samples.{where}: {problem}", details={"samples": details})


def _check_series_limits(new: dict[tuple[str, str], str], *, service: str | None) -> None:
    """Under the family lock, so two writers cannot both take the last free label set."""
    names = {name: family for (name, _key), family in new.items()}
    limit = storage.series_limit()
    counts = storage.count_series(names)
    over = {names[name]: count for name, count in counts.items() if count > limit}
    if over:
        raise _limit_error(over, setting="METRICS_SERIES_LIMIT", limit=limit)
    if not service:
        return
    limit = storage.service_series_limit()
    counts = storage.count_series(names, service=service)
    over = {names[name]: count for name, count in counts.items() if count > limit}
    if over:
        raise _limit_error(
            over, setting="METRICS_MAX_SERIES_PER_SERVICE", limit=limit, service=service
        )


def _limit_error(
    over: dict[str, int], *, setting: str, limit: int, service: str | None = None
) -> SeriesLimitExceeded:
    families = ", ".join(sorted(over))
    if service is None:
        message = f"Too many label sets for {families} ({setting} is {limit})."
        metrics = {
            family: f"{family} would have {count} label sets; the limit is {limit} ({setting})"
            for family, count in sorted(over.items())
        }
    else:
        message = (
            f"Too many label sets for {families} from service {service} ({setting} is {limit})."
        )
        metrics = {
            family: f"{service} would have {count} label sets of {family}; "
            f"the limit per service is {limit} ({setting})"
            for family, count in sorted(over.items())
        }
    details: dict[str, Any] = {"metrics": metrics, "limit": setting, "limit_value": limit}
    if service is not None:
        details["service"] = service
    return SeriesLimitExceeded(message, details=details)


def hash_token(raw: str) -> str:
    # Tokens are 256-bit random values, so a fast hash is enough: there is nothing to guess.
    return hashlib.sha256(raw.encode()).hexdigest()


def looks_like_ingest_token(raw: str) -> bool:
    return raw.startswith(TOKEN_PREFIX)


@transaction.atomic
def create_ingest_token(
    *, service: str, name: str = "", multi_service: bool = False, created_by: Any = None
) -> tuple[IngestToken, str]:
    """A new token row and the token itself, which is shown once and never stored."""
    public = secrets.token_hex(_PUBLIC_CHARS // 2)
    raw = f"{TOKEN_PREFIX}{public}_{secrets.token_urlsafe(32)}"
    token = IngestToken.objects.create(
        name=name or service,
        service=service,
        prefix=f"{TOKEN_PREFIX}{public}",
        key_hash=hash_token(raw),
        multi_service=multi_service,
        created_by=created_by,
    )
    logger.info("ingest token created", extra={"token_prefix": token.prefix, "service": service})
    return token, raw


@transaction.atomic
def update_ingest_token(*, token: IngestToken, name: str, multi_service: bool) -> IngestToken:
    """Rename a token or change whether it may push for other services (never its secret)."""
    token.name, token.multi_service = name, multi_service
    token.save(update_fields=["name", "multi_service"])
    logger.info(
        "ingest token changed",
        extra={"token_prefix": token.prefix, "multi_service": multi_service},
    )
    return token


def revoke_ingest_token(*, token: IngestToken, now: datetime | None = None) -> bool:
    """Revoke a token; False when it already was."""
    changed = IngestToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
        revoked_at=now or timezone.now()
    )
    if changed:
        logger.info("ingest token revoked", extra={"token_prefix": token.prefix})
    return bool(changed)


def find_ingest_token(raw: str) -> IngestToken | None:
    """The active token matching ``raw``; records its use at most once a minute."""
    token = IngestToken.objects.filter(key_hash=hash_token(raw)).first()
    if token is None or not token.is_active():
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
        IngestToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token
