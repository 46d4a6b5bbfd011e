"""Dispatchers: claim one due outbox row under a lease, send it, record the attempt; looped.

Any number of dispatchers may run (threads, processes, hosts): a row is claimed by a conditional
UPDATE that only one of them can win, and its lease outlasts one send, so a dispatcher that dies
mid-send leaves the row to be claimed again once the lease expires. Delivery is at least once.
"""

from __future__ import annotations

import logging
import random
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from alerts.channels import ChannelError, Receipt
from alerts.models import Notification, NotificationAttempt, NotificationChannel
from alerts.notifications import attempts, channel_health, pause, postgres
from alerts.notifications.messages import from_payload
from monitoring_site import tracing

logger = logging.getLogger(__name__)

Outcome = NotificationAttempt.Outcome
State = Notification.State
CANDIDATES = 20


@dataclass(frozen=True)
class Result:
    """What one step did with one row."""

    notification_id: int
    # an Attempt outcome, "deferred" (paced, or its channel paused), or "lost" (lease taken over)
    outcome: str


def _claimable(now: datetime) -> Q:
    return Q(state__in=Notification.PENDING_STATES, due_at__lte=now) & (
        Q(lease_until__isnull=True) | Q(lease_until__lte=now)
    )


def claim_one(*, now: datetime | None = None) -> Notification | None:
    """Claim the most overdue row under a lease (one claimer wins), or None."""
    now = now or timezone.now()
    lease_until = now + timedelta(seconds=settings.NOTIFY_LEASE_SECONDS)
    token = uuid.uuid4().hex
    if connection.vendor == "postgresql":
        return postgres.claim(now=now, lease_until=lease_until, token=token)
    pk = _claim_conditional(now, lease_until, token)
    if pk is None:
        return None
    return Notification.objects.select_related("channel").get(pk=pk)


def _claim_conditional(now: datetime, lease_until: datetime, token: str) -> int | None:
    """Any database: a conditional UPDATE per candidate; the first that matches is ours."""
    candidates = list(
        Notification.objects.filter(_claimable(now))
        .order_by("due_at", "pk")
        .values_list("pk", flat=True)[:CANDIDATES]
    )
    for pk in candidates:
        won = Notification.objects.filter(_claimable(now), pk=pk).update(
            state=State.SENDING, lease_until=lease_until, claim=token
        )
        if won:
            return pk
    return None


def dispatch_step(*, now: datetime | None = None) -> Result | None:
    """Claim one due row, process it, and say what happened (None: nothing was due)."""
    row = claim_one(now=now)
    if row is None:
        return None
    return process(row)


def dispatch_due(*, budget: float | None = None, wait: bool = True) -> int:
    """Process due rows until none is left (or the time budget is spent); returns how many.

    With ``wait``, rows that fall due within NOTIFY_WAIT_SECONDS (a paced Slack message, a
    short Retry-After) are waited for rather than left to the next sweep.
    """
    deadline = time.monotonic() + (budget or settings.NOTIFY_DISPATCH_BUDGET_SECONDS)
    done = 0
    with _bookkeeping_commits():
        while time.monotonic() < deadline:
            if dispatch_step() is not None:
                done += 1
                continue
            pause = _next_due_in() if wait else None
            if pause is None or pause > settings.NOTIFY_WAIT_SECONDS:
                break
            time.sleep(min(max(pause, 0.01), 0.5, max(deadline - time.monotonic(), 0)))
    return done


@contextmanager
def _bookkeeping_commits() -> Iterator[None]:
    """PostgreSQL: the dispatcher's claims and attempt records commit without waiting for the
    WAL flush (NOTIFY_ASYNC_COMMIT). Only a crash of the database server itself can lose the
    last few hundred milliseconds of them, and then those messages are sent again: at least
    once, as any crash between sending and recording. The outbox rows themselves, written with
    the alert events, stay durable; so does a self-alert (channel_health commits it durably).
    """
    if connection.vendor != "postgresql" or not settings.NOTIFY_ASYNC_COMMIT:
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit TO off")
    try:
        yield
    finally:
        try:
            with connection.cursor() as cursor:
                cursor.execute("RESET synchronous_commit")
        except DatabaseError:  # the connection is gone, and its setting with it
            logger.warning("could not reset synchronous_commit", exc_info=True)


def _next_due_in() -> float | None:
    row = (
        Notification.objects.filter(state__in=Notification.PENDING_STATES)
        .order_by("due_at")
        .values_list("due_at", "lease_until")
        .first()
    )
    if row is None:
        return None
    due = max(row[0], row[1] or row[0])
    return (due - timezone.now()).total_seconds()


def process(row: Notification, *, pace: bool = True) -> Result:
    """Send a claimed row once and record the outcome (one ``notification`` span when tracing)."""
    attributes = {"alert.id": row.alert_id or 0, "notification.id": row.pk, "channel.kind": ""}
    with tracing.span("notification", **attributes) as span:
        if span is not None:
            span.set_attribute("channel.kind", row.channel.kind)
        return _process(row, pace=pace)


def _process(row: Notification, *, pace: bool) -> Result:
    channel = row.channel
    if not channel.enabled:
        error = ChannelError("the channel is disabled", permanent=True)
        return _record_failure(row, error, duration_ms=0.0, count_for_channel=False)
    if pause.hold_while_paused(row=row, channel=channel, now=timezone.now()):
        return Result(row.pk, "deferred")
    paced = pace and _is_paced(channel)
    if paced and not _take_pace_slot(row, channel):
        return Result(row.pk, "deferred")
    try:
        attempt = attempts.start(row=row, now=timezone.now())
        if attempt is None:  # the lease was taken over before the send: not ours to send
            return Result(row.pk, "lost")
        started = time.monotonic()
        try:
            message = replace(from_payload(row.payload), idempotency_key=row.idempotency_key)
            receipt = channel.transport().send(message)
        except ChannelError as exc:
            return _record_failure(row, exc, duration_ms=_ms(started), attempt=attempt)
        except Exception as exc:  # a bug or a bad snapshot: retrying would not help
            logger.exception("notification send crashed", extra={"notification": row.pk})
            error = ChannelError(f"{type(exc).__name__}: {exc}", permanent=True)
            return _record_failure(row, error, duration_ms=_ms(started), attempt=attempt)
    finally:
        if paced:
            _hold_pace_slot(channel)
    return _record_delivery(row, receipt, duration_ms=_ms(started), attempt=attempt)


def _ms(started: float) -> float:
    return round((time.monotonic() - started) * 1000, 3)


def _is_paced(channel: NotificationChannel) -> bool:
    interval = settings.NOTIFY_SLACK_INTERVAL_SECONDS
    return channel.kind == NotificationChannel.Kind.SLACK and interval > 0


def _hold_pace_slot(channel: NotificationChannel) -> None:
    """The interval counts from the end of a send, so Slack sees messages at least that far apart
    whatever the time between taking the slot and the request reaching it."""
    until = timezone.now() + timedelta(seconds=settings.NOTIFY_SLACK_INTERVAL_SECONDS)
    NotificationChannel.objects.filter(pk=channel.pk).update(paced_until=until)


def _take_pace_slot(row: Notification, channel: NotificationChannel) -> bool:
    """Slack: at most one message per second per channel, across all dispatchers."""
    now = timezone.now()
    # Reserved for the longest a send can take; _hold_pace_slot sets the real end once it is over.
    reserve = (
        settings.NOTIFY_SLACK_INTERVAL_SECONDS
        + settings.CHANNEL_CONNECT_TIMEOUT
        + settings.CHANNEL_READ_TIMEOUT
    )
    free = Q(paced_until__isnull=True) | Q(paced_until__lte=now)
    taken = NotificationChannel.objects.filter(free, pk=channel.pk).update(
        paced_until=now + timedelta(seconds=reserve)
    )
    if taken:
        return True
    slot = NotificationChannel.objects.values_list("paced_until", flat=True).get(pk=channel.pk)
    # A slot reserved by a send in flight usually frees well before its reservation ends.
    retry_at = min(slot or now, now + timedelta(seconds=settings.NOTIFY_SLACK_INTERVAL_SECONDS))
    Notification.objects.filter(pk=row.pk, claim=row.claim).update(
        state=State.QUEUED, due_at=max(retry_at, row.due_at), lease_until=None
    )
    return False


def _record_delivery(
    row: Notification, receipt: Receipt, *, duration_ms: float, attempt: attempts.Started
) -> Result:
    now = timezone.now()
    if connection.vendor == "postgresql":
        held = postgres.record_delivery(
            row=row, receipt=receipt, now=now, duration_ms=duration_ms, attempt_id=attempt.pk
        )
    else:
        held = _record_delivery_orm(row, receipt, now=now, duration_ms=duration_ms, attempt=attempt)
    attempts.announce(
        attempt, row=row, outcome=Outcome.DELIVERED, status=receipt.status, duration_ms=duration_ms
    )
    if _channel_needs_update(row.channel, now):
        NotificationChannel.objects.filter(pk=row.channel_id).update(
            last_sent_at=now, failing_since=None
        )
    if row.kind != Notification.Kind.TEST_MESSAGE and row.channel.failing_since is not None:
        channel_health.recovered(channel=row.channel, now=now)
    logger.info(
        "notification delivered",
        extra={"notification": row.pk, "alert": row.alert_id, "channel": row.channel.name},
    )
    return Result(row.pk, Outcome.DELIVERED if held else "lost")


@transaction.atomic
def _record_delivery_orm(
    row: Notification,
    receipt: Receipt,
    *,
    now: datetime,
    duration_ms: float,
    attempt: attempts.Started,
) -> bool:
    held = Notification.objects.filter(pk=row.pk, claim=row.claim).update(
        state=State.DELIVERED, delivered_at=now, lease_until=None, last_error=""
    )
    NotificationAttempt.objects.filter(pk=attempt.pk).update(
        outcome=Outcome.DELIVERED,
        status=receipt.status,
        receipt=str(receipt.message_id)[:300],
        detail=receipt.detail[:2000],
        duration_ms=duration_ms,
    )
    return bool(held)


def _channel_needs_update(channel: NotificationChannel, now: datetime) -> bool:
    """last_sent_at is kept to the second: a burst to one channel does not rewrite it per row."""
    if channel.failing_since is not None or channel.last_sent_at is None:
        return True
    return now - channel.last_sent_at >= timedelta(seconds=1)


def backoff(attempts: int, retry_after: float | None = None) -> float:
    """Seconds before the next try: exponential from the base, capped, with jitter."""
    step = min(
        settings.NOTIFY_RETRY_MAX_SECONDS,
        settings.NOTIFY_RETRY_BASE_SECONDS * 2 ** max(attempts - 1, 0),
    )
    delay = step * random.uniform(0.5, 1.0)
    return max(delay, retry_after or 0.0)


def _record_failure(
    row: Notification,
    error: ChannelError,
    *,
    duration_ms: float,
    attempt: attempts.Started | None = None,
    count_for_channel: bool = True,
) -> Result:
    """Record a failed try: close its started attempt, or (no send was tried) write one."""
    now = timezone.now()
    tries = row.attempts if attempt is not None else row.attempts + 1
    retry_at = now + timedelta(seconds=backoff(tries, error.retry_after))
    if error.permanent or row.kind == Notification.Kind.TEST_MESSAGE:
        outcome, state, due = Outcome.PERMANENT, State.FAILED, row.due_at
    elif retry_at - row.created_at > settings.NOTIFY_MAX_AGE:
        outcome, state, due = Outcome.GAVE_UP, State.FAILED, row.due_at
    else:
        outcome, state, due = Outcome.TRANSIENT, State.QUEUED, retry_at
    if not error.permanent and row.kind == Notification.Kind.TEST_MESSAGE:
        outcome = Outcome.TRANSIENT  # a test is tried once; say it would have been retried
    closed = {
        "outcome": outcome,
        "status": error.status,
        "error": error.message[:2000],
        "duration_ms": duration_ms,
        "retry_at": due if state == State.QUEUED else None,
    }
    with transaction.atomic():
        held = Notification.objects.filter(pk=row.pk, claim=row.claim).update(
            state=state,
            due_at=due,
            lease_until=None,
            attempts=F("attempts") + (0 if attempt is not None else 1),
            last_error=error.message[:2000],
        )
        if attempt is not None:
            NotificationAttempt.objects.filter(pk=attempt.pk).update(**closed)
        else:
            NotificationAttempt.objects.create(
                notification=row, channel=row.channel, at=now, **closed
            )
        if count_for_channel:
            channel_health.failed(channel=row.channel, error=error, now=now, attempts=tries)
        pause.pause_channel(channel=row.channel, error=error, now=now)
    logger.warning(
        "notification attempt failed",
        extra={
            "notification": row.pk,
            "alert": row.alert_id,
            "channel": row.channel.name,
            "outcome": outcome,
            "error": error.message[:300],
        },
    )
    if attempt is not None:
        attempts.announce(
            attempt, row=row, outcome=outcome, status=error.status, duration_ms=duration_ms
        )
    if count_for_channel and row.kind != Notification.Kind.TEST_MESSAGE:
        channel_health.maybe_raise(channel=row.channel, error=error, now=now)
    return Result(row.pk, outcome if held else "lost")


def deliver_now(row: Notification) -> tuple[Notification, NotificationAttempt | None]:
    """Claim this row (whatever its due time) and process it at once (tests, test commands)."""
    token = uuid.uuid4().hex
    now = timezone.now()
    Notification.objects.filter(pk=row.pk, state__in=Notification.PENDING_STATES).update(
        state=State.SENDING,
        lease_until=now + timedelta(seconds=settings.NOTIFY_LEASE_SECONDS),
        claim=token,
    )
    claimed = Notification.objects.select_related("channel").get(pk=row.pk)
    if claimed.claim == token:
        process(claimed, pace=False)
    claimed.refresh_from_db()
    return claimed, claimed.attempt_rows.order_by("-at", "-pk").first()
