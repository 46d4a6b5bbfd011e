"""Crash duplicates are harmless and visible (issue #13, item 4).

Every send carries the notification's idempotency key (the same for a resend), and an attempt is
recorded before the send: a resend after a dispatcher died shows as a second attempt of the same
notification. The process-level test (a dispatcher SIGKILLed mid-send) is in test_concurrency.py.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.core import mail
from django.utils import timezone

from alerts.models import Alert, Notification, NotificationAttempt, NotificationChannel
from alerts.notifications import attempts
from alerts.notifications.dispatch import claim_one, dispatch_step
from tests.support.fake_vendors import WebhookReceiver

pytestmark = pytest.mark.django_db


def outcomes(row: Notification) -> list[str]:
    return list(row.attempt_rows.order_by("at", "pk").values_list("outcome", flat=True))


def test_a_webhook_carries_the_notifications_idempotency_key_in_a_header_and_the_body(
    fire: Callable[..., Alert], webhook: NotificationChannel, webhook_receiver: WebhookReceiver
) -> None:
    fire(channels=["webhook"], labels={"queue": "a"})
    fire(channels=["webhook"], labels={"queue": "b"})
    dispatch_step()
    dispatch_step()

    first, second = webhook_receiver.requests
    rows = list(Notification.objects.order_by("pk"))
    assert [r.header("Idempotency-Key") for r in (first, second)] == [
        row.idempotency_key for row in rows
    ]
    assert [r.json()["idempotencyKey"] for r in (first, second)] == [
        row.idempotency_key for row in rows
    ]
    assert rows[0].idempotency_key != rows[1].idempotency_key
    assert uuid.UUID(rows[0].idempotency_key).version == 5
    # The receiver checked the signature, which covers the body with its key: both were 200.
    assert [r.status for r in (first, second)] == [200, 200]


def test_a_retry_of_the_same_notification_carries_the_same_key(
    fire: Callable[..., Alert],
    webhook: NotificationChannel,
    webhook_receiver: WebhookReceiver,
    clock: Any,
) -> None:
    webhook_receiver.fail(502, times=1)
    fire(channels=["webhook"])
    dispatch_step()
    clock.shift(600)
    dispatch_step()

    failed, delivered = webhook_receiver.requests
    assert (failed.status, delivered.status) == (502, 200)
    key = Notification.objects.get().idempotency_key
    assert failed.header("Idempotency-Key") == delivered.header("Idempotency-Key") == key
    assert failed.json()["idempotencyKey"] == delivered.json()["idempotencyKey"] == key


def test_the_key_is_stable_for_the_row_and_differs_for_a_row_queued_at_another_instant(
    fire: Callable[..., Alert], webhook: NotificationChannel
) -> None:
    """Derived from the id and the queueing instant: a rebuilt database reusing id 1 does not
    collide with the old row 1 at a receiver that remembers keys."""
    fire(channels=["webhook"])
    row = Notification.objects.get()
    again = Notification.objects.get(pk=row.pk)
    assert row.idempotency_key == again.idempotency_key
    again.created_at += timedelta(microseconds=1)
    assert again.idempotency_key != row.idempotency_key


def test_an_email_resend_has_the_same_message_id(
    fire: Callable[..., Alert], email: NotificationChannel, clock: Any
) -> None:
    fire(channels=["email"])
    row = claim_one()
    assert row is not None
    attempts.start(row=row, now=timezone.now())  # a dispatcher that then died mid-send
    clock.shift(61)
    dispatch_step()

    [sent] = mail.outbox
    key = Notification.objects.get().idempotency_key
    assert sent.extra_headers["Message-ID"].startswith(f"<notification.{key}@")
    assert sent.extra_headers["X-Idempotency-Key"] == key


def test_an_attempt_is_recorded_in_flight_before_the_send(
    fire: Callable[..., Alert],
    webhook: NotificationChannel,
    webhook_receiver: WebhookReceiver,
    monkeypatch: pytest.MonkeyPatch,
    clock: Any,
) -> None:
    """What the vendor sees arrive is already an attempt in the outbox."""
    from alerts.channels import webhook as webhook_module

    seen: list[tuple[str, int]] = []
    real_post = webhook_module.http.post

    def post_and_look(*args: Any, **kwargs: Any) -> Any:
        # A spy, not a stand-in: the real request goes out after the outbox is read.
        row = Notification.objects.get()
        seen.append((outcomes(row)[-1], row.attempts))
        return real_post(*args, **kwargs)

    monkeypatch.setattr(webhook_module.http, "post", post_and_look)
    fire(channels=["webhook"])
    dispatch_step()

    assert seen == [("in_flight", 1)]
    assert len(webhook_receiver.requests) == 1
    row = Notification.objects.get()
    assert (outcomes(row), row.attempts, row.state) == (["delivered"], 1, "delivered")


def test_a_resend_after_a_dead_dispatcher_is_a_second_attempt_and_the_first_shows_interrupted(
    fire: Callable[..., Alert],
    webhook: NotificationChannel,
    webhook_receiver: WebhookReceiver,
    clock: Any,
) -> None:
    fire(channels=["webhook"])
    dead = claim_one()
    assert dead is not None
    attempts.start(row=dead, now=timezone.now())  # ... and the process was killed here
    row = Notification.objects.get()
    assert (outcomes(row), row.attempts, row.state) == (["in_flight"], 1, "sending")
    clock.shift(59)
    assert dispatch_step() is None  # its lease still runs
    clock.shift(1)

    result = dispatch_step()

    assert result is not None and result.outcome == "delivered"
    row.refresh_from_db()
    assert outcomes(row) == ["interrupted", "delivered"]
    assert (row.attempts, row.state) == (2, "delivered")
    interrupted = row.attempt_rows.get(outcome="interrupted")
    assert "killed or crashed mid-send" in interrupted.error
    assert webhook_receiver.requests[0].header("Idempotency-Key") == row.idempotency_key


def test_a_dispatcher_whose_lease_was_taken_over_before_the_send_sends_nothing(
    fire: Callable[..., Alert],
    webhook: NotificationChannel,
    webhook_receiver: WebhookReceiver,
    clock: Any,
) -> None:
    fire(channels=["webhook"])
    slow = claim_one()
    assert slow is not None
    clock.shift(61)
    assert dispatch_step() is not None  # another dispatcher took the expired lease and sent

    from alerts.notifications.dispatch import process

    result = process(slow)

    assert result.outcome == "lost"
    assert len(webhook_receiver.requests) == 1
    assert NotificationAttempt.objects.count() == 1


def test_in_flight_and_interrupted_attempts_are_counted_on_metrics(
    fire: Callable[..., Alert], webhook: NotificationChannel, clock: Any
) -> None:
    from prometheus_client import CollectorRegistry, generate_latest

    from alerts.notifications.metrics import NotificationCollector

    fire(channels=["webhook"])
    dead = claim_one()
    assert dead is not None
    attempts.start(row=dead, now=timezone.now())
    clock.shift(60)
    dispatch_step()
    registry = CollectorRegistry()
    registry.register(NotificationCollector())
    text = generate_latest(registry).decode()
    assert 'alert_notification_attempts_total{kind="webhook",outcome="interrupted"} 1.0' in text
    assert 'alert_notification_attempts_total{kind="webhook",outcome="delivered"} 1.0' in text
