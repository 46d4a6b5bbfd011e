"""Dispatch: claims, attempts, retries with backoff, permanent failures, pacing, giving up."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from itertools import pairwise
from typing import Any

import pytest
from django.test.utils import override_settings
from django.utils import timezone

from alerts.models import Alert, Notification, NotificationAttempt, NotificationChannel
from alerts.notifications.dispatch import (
    Result,
    backoff,
    claim_one,
    dispatch_due,
    dispatch_step,
)
from tests.alerts.notifications.conftest import drain, rows
from tests.support.fake_vendors import SlackServer, WebhookReceiver
from tests.support.smtp import SmtpServer

pytestmark = pytest.mark.django_db


def _outcome(result: Result | None) -> str | None:
    """What a dispatch step did, or None when nothing was due."""
    return result.outcome if result is not None else None


def attempts_of(row: Notification) -> list[tuple[str, int | None]]:
    return list(
        NotificationAttempt.objects.filter(notification=row)
        .order_by("at", "pk")
        .values_list("outcome", "status")
    )


def test_a_webhook_message_is_delivered_and_its_attempt_recorded(
    fire: Callable[..., Alert],
    webhook: NotificationChannel,
    webhook_receiver: WebhookReceiver,
    clock: Any,
) -> None:
    alert = fire(channels=["webhook"])
    result = dispatch_step()

    row = Notification.objects.get()
    assert (_outcome(result), row.state, row.attempts, row.delivered_at) == (
        "delivered",
        "delivered",
        1,
        timezone.now(),
    )
    attempt = NotificationAttempt.objects.get()
    assert (attempt.outcome, attempt.status, attempt.receipt) == ("delivered", 200, "req-1")
    body = webhook_receiver.bodies[0]
    assert body["alerts"][0]["labels"]["alertname"] == alert.rule_name
    assert body["status"] == "firing"
    webhook.refresh_from_db()
    assert webhook.last_sent_at == timezone.now()
    assert dispatch_step() is None


def test_a_claimed_row_is_not_claimed_again_until_its_lease_expires(
    fire: Callable[..., Alert], webhook: NotificationChannel, clock: Any
) -> None:
    fire(channels=["webhook"])
    first = claim_one()

    assert first is not None and first.state == "sending"
    assert claim_one() is None
    clock.shift(59)
    assert claim_one() is None
    clock.shift(1)
    again = claim_one()
    assert again is not None and again.pk == first.pk and again.claim != first.claim


def test_email_answered_451_is_retried_and_then_delivered(
    fire: Callable[..., Alert], email: NotificationChannel, smtp_server: SmtpServer, clock: Any
) -> None:
    smtp_server.reply(451, times=1)
    fire(channels=["email"])

    first = dispatch_step()
    row = Notification.objects.get()
    assert (_outcome(first), row.state, row.attempts) == ("transient", "queued", 1)
    assert timedelta(seconds=5) <= row.due_at - timezone.now() <= timedelta(seconds=10)
    assert dispatch_step() is None  # not due yet

    clock.move_to(row.due_at)
    assert _outcome(dispatch_step()) == "delivered"
    row.refresh_from_db()
    assert attempts_of(row) == [("transient", 451), ("delivered", 250)]
    assert len(smtp_server.messages) == 1
    received = smtp_server.messages[0]
    assert received.rcpt_tos == ["ops@tickettoken.example"]
    assert "[WARNING]" in received.message["Subject"] or "WARNING" in received.message["Subject"]


def test_email_answered_550_fails_permanently_and_marks_the_channel(
    fire: Callable[..., Alert], email: NotificationChannel, smtp_server: SmtpServer, clock: Any
) -> None:
    smtp_server.reply(550, times=1, stage="RCPT")
    fire(channels=["email"])

    assert _outcome(dispatch_step()) == "permanent"
    row = Notification.objects.get(kind="firing")
    assert (row.state, row.attempts) == ("failed", 1)
    assert attempts_of(row) == [("permanent", 550)]
    email.refresh_from_db()
    assert "550" in email.last_error
    assert email.last_error_at == timezone.now()
    assert dispatch_step() is None or Notification.objects.get(pk=row.pk).state == "failed"
    assert smtp_server.messages == []


def test_slack_failing_for_ten_minutes_delivers_exactly_one_message_after_recovery(
    fire: Callable[..., Alert], slack: NotificationChannel, slack_server: SlackServer, clock: Any
) -> None:
    slack_server.fail(500, until=timezone.now() + timedelta(minutes=10))
    fire(channels=["slack"])

    drain(clock)

    row = Notification.objects.get()
    assert row.state == "delivered"
    assert row.delivered_at is not None
    assert row.delivered_at >= row.created_at + timedelta(minutes=10)
    outcomes = [outcome for outcome, _ in attempts_of(row)]
    assert outcomes[-1] == "delivered"
    assert set(outcomes[:-1]) == {"transient"} and len(outcomes) >= 4
    assert len(slack_server.messages) == 1
    assert [r.status for r in slack_server.requests].count(200) == 1


def test_a_429_with_retry_after_is_not_retried_sooner(
    fire: Callable[..., Alert], slack: NotificationChannel, slack_server: SlackServer, clock: Any
) -> None:
    slack_server.rate_limit(retry_after=3, times=1)
    with override_settings(NOTIFY_RETRY_BASE_SECONDS=0.2):
        fire(channels=["slack"])
        assert _outcome(dispatch_step()) == "transient"
        row = Notification.objects.get()
        assert row.due_at == timezone.now() + timedelta(seconds=3)

        clock.shift(2.9)
        assert dispatch_step() is None
        clock.shift(0.1)
        assert _outcome(dispatch_step()) == "delivered"

    first, second = slack_server.requests
    assert (first.status, second.status) == (429, 200)
    assert second.at - first.at >= timedelta(seconds=3)


def test_backoff_doubles_with_jitter_and_is_capped() -> None:
    delays = [[backoff(n) for _ in range(200)] for n in (1, 2, 3, 10)]

    assert all(5 <= d <= 10 for d in delays[0])
    assert all(10 <= d <= 20 for d in delays[1])
    assert all(20 <= d <= 40 for d in delays[2])
    assert all(300 <= d <= 600 for d in delays[3])
    assert len({round(d, 6) for d in delays[0]}) > 100  # jittered, not one fixed delay
    assert backoff(1, retry_after=120) == 120


def test_slack_is_paced_to_one_message_per_second_per_channel(
    fire: Callable[..., Alert], slack: NotificationChannel, slack_server: SlackServer, clock: Any
) -> None:
    for n in range(3):
        fire(channels=["slack"], labels={"queue": f"q{n}"})

    drain(clock)

    times = [r.at for r in slack_server.requests]
    assert len(slack_server.messages) == 3
    assert [b - a for a, b in pairwise(times)] == [timedelta(seconds=1)] * 2


def test_a_message_is_given_up_after_the_maximum_age(
    fire: Callable[..., Alert],
    webhook: NotificationChannel,
    webhook_receiver: WebhookReceiver,
    clock: Any,
) -> None:
    webhook_receiver.fail(503, until=timezone.now() + timedelta(days=3))
    with override_settings(NOTIFY_MAX_AGE=timedelta(hours=1), NOTIFY_CHANNEL_FAILING_MINUTES=600):
        fire(channels=["webhook"])
        drain(clock, limit=timedelta(hours=2))

    row = Notification.objects.get()
    assert row.state == "failed"
    outcomes = [outcome for outcome, _ in attempts_of(row)]
    assert outcomes[-1] == "gave_up" and set(outcomes[:-1]) == {"transient"}
    assert timezone.now() - row.created_at <= timedelta(hours=1)
    assert "503" in row.last_error


def test_a_webhook_to_a_loopback_address_is_refused_without_the_private_flag(
    fire: Callable[..., Alert],
    webhook: NotificationChannel,
    webhook_receiver: WebhookReceiver,
    clock: Any,
) -> None:
    with override_settings(WEBHOOK_ALLOW_PRIVATE=False):
        fire(channels=["webhook"])
        assert _outcome(dispatch_step()) == "permanent"

    row = Notification.objects.get(kind="firing")
    assert row.state == "failed"
    assert "127.0.0.1" in row.last_error or "loopback" in row.last_error
    assert webhook_receiver.requests == []


def test_a_permanently_failing_channel_raises_a_self_alert_through_the_others(
    fire: Callable[..., Alert],
    email: NotificationChannel,
    smtp_server: SmtpServer,
    webhook: NotificationChannel,
    webhook_receiver: WebhookReceiver,
    clock: Any,
) -> None:
    smtp_server.reject("ops@tickettoken.example")
    fire(channels=["email"])
    drain(clock)

    self_alert = Alert.objects.get(source=Alert.Source.SELF)
    assert (self_alert.state, self_alert.labels) == (
        "firing",
        {"channel": "Email", "kind": "email"},
    )
    assert "failed permanently" in self_alert.description
    assert rows(alert=self_alert) == [("Ops webhook", "firing", None)]
    [body] = webhook_receiver.bodies
    assert body["alerts"][0]["labels"]["alertname"] == "Notification channel failing"
    assert body["alerts"][0]["labels"]["channel"] == "Email"


def test_a_channel_failing_for_fifteen_minutes_raises_a_self_alert_and_recovery_resolves_it(
    fire: Callable[..., Alert],
    slack: NotificationChannel,
    slack_server: SlackServer,
    webhook: NotificationChannel,
    webhook_receiver: WebhookReceiver,
    clock: Any,
) -> None:
    started = timezone.now()
    slack_server.fail(503, until=started + timedelta(minutes=60))
    fire(channels=["slack"])

    while not Alert.objects.filter(source=Alert.Source.SELF).exists():
        row = Notification.objects.get(channel=slack)
        assert row.state == "queued" and row.due_at < started + timedelta(minutes=60)
        clock.move_to(row.due_at)
        assert _outcome(dispatch_step()) == "transient"

    self_alert = Alert.objects.get(source=Alert.Source.SELF)
    # Raised by the first failure at least 15 minutes in (retries are at most 10 minutes apart).
    assert timedelta(minutes=15) <= self_alert.started_at - started < timedelta(minutes=25)
    assert (
        "has failed for 1" in self_alert.description or "has failed for 2" in self_alert.description
    )
    slack.refresh_from_db()
    assert slack.failing_since == started

    drain(clock)  # Slack recovers after an hour
    self_alert.refresh_from_db()
    assert self_alert.state == "resolved"
    assert [b["status"] for b in webhook_receiver.bodies] == ["firing", "resolved"]
    slack.refresh_from_db()
    assert slack.failing_since is None


def test_one_dispatch_task_waits_for_paced_slack_messages_instead_of_leaving_them(
    fire: Callable[..., Alert], slack: NotificationChannel, slack_server: SlackServer
) -> None:
    with override_settings(NOTIFY_SLACK_INTERVAL_SECONDS=0.3):
        for n in range(3):
            fire(channels=["slack"], labels={"queue": f"q{n}"})

        processed = dispatch_due(budget=10)  # sends, and puts back rows whose slot is taken

    assert processed >= 5

    assert set(Notification.objects.values_list("state", flat=True)) == {"delivered"}
    assert NotificationAttempt.objects.count() == 3  # a row put back is not an attempt
    times = [r.at for r in slack_server.requests]
    assert len(times) == 3
    assert all(b - a >= timedelta(seconds=0.3) for a, b in pairwise(times))
