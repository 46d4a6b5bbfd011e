"""A vendor's rate limit holds for the whole channel (issue #13, item 3).

Measured before: after Slack answered 429 with ``Retry-After: 30``, the dispatcher sent five more
requests to Slack inside those 30 s, since it waited per message.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.test.utils import override_settings
from django.utils import timezone

from alerts.models import Alert, Notification, NotificationAttempt, NotificationChannel
from alerts.notifications.dispatch import dispatch_due, dispatch_step
from alerts.notifications.pause import resume_channel
from tests.alerts.notifications.conftest import drain
from tests.support.fake_vendors import SlackServer, WebhookReceiver

pytestmark = pytest.mark.django_db


def fire_many(fire: Callable[..., Alert], count: int, channels: list[str]) -> None:
    for n in range(count):
        fire(channels=channels, labels={"queue": f"q{n}"})


def test_a_slack_429_with_retry_after_holds_every_message_of_the_channel_until_then(
    fire: Callable[..., Alert], slack: NotificationChannel, slack_server: SlackServer, clock: Any
) -> None:
    fire_many(fire, 6, ["slack"])
    slack_server.rate_limit(retry_after=30, times=1)
    started = timezone.now()

    drain(clock)

    first, *rest = slack_server.requests
    assert first.status == 429
    assert len(rest) == 6 and {r.status for r in rest} == {200}
    # Nothing reached Slack inside the 30 s it asked for.
    assert min(r.at for r in rest) == started + timedelta(seconds=30)
    assert set(Notification.objects.values_list("state", flat=True)) == {"delivered"}
    # Messages held back by the pause were never tried: 1 rate-limited attempt + 6 deliveries.
    outcomes = sorted(NotificationAttempt.objects.values_list("outcome", flat=True))
    assert outcomes == ["delivered"] * 6 + ["transient"]


def test_the_pause_is_stored_on_the_channel_and_its_queued_messages_wait_for_it(
    fire: Callable[..., Alert], slack: NotificationChannel, slack_server: SlackServer, clock: Any
) -> None:
    fire_many(fire, 3, ["slack"])
    slack_server.rate_limit(retry_after=30, times=1)

    assert dispatch_step() is not None  # the 429
    slack.refresh_from_db()
    until = timezone.now() + timedelta(seconds=30)
    assert slack.paused_until == until
    assert slack.pause_reason == "429 with Retry-After 30 s at 09:00:30 UTC"
    assert set(Notification.objects.values_list("due_at", flat=True)) == {until}
    clock.shift(29)
    assert dispatch_step() is None
    assert len(slack_server.requests) == 1


def test_a_row_claimed_while_its_channel_is_paused_goes_back_without_an_attempt(
    fire: Callable[..., Alert], slack: NotificationChannel, slack_server: SlackServer, clock: Any
) -> None:
    """A message queued after the pause began (due now) is claimed, then put back."""
    until = timezone.now() + timedelta(seconds=20)
    NotificationChannel.objects.filter(pk=slack.pk).update(
        paused_until=until, pause_reason="429 with Retry-After 20 s"
    )
    fire(channels=["slack"])

    result = dispatch_step()

    assert result is not None and result.outcome == "deferred"
    row = Notification.objects.get()
    assert (row.state, row.due_at, row.attempts, row.lease_until) == ("queued", until, 0, None)
    assert not NotificationAttempt.objects.exists()
    assert slack_server.requests == []


def test_a_webhook_503_with_retry_after_pauses_that_channel_while_others_deliver(
    fire: Callable[..., Alert],
    webhook: NotificationChannel,
    slack: NotificationChannel,
    webhook_receiver: WebhookReceiver,
    slack_server: SlackServer,
    clock: Any,
) -> None:
    webhook_receiver.fail(503, headers={"Retry-After": "120"})
    fire_many(fire, 2, ["webhook", "slack"])
    for _ in range(4):
        dispatch_step()
        clock.shift(1)  # Slack's pacing

    assert len(slack_server.messages) == 2
    assert [r.status for r in webhook_receiver.requests] == [503]
    webhook.refresh_from_db()
    assert webhook.paused_until is not None and webhook.pause_reason.startswith("503 with")


def test_a_shorter_retry_after_never_cuts_a_pause_short_and_a_huge_one_is_capped(
    fire: Callable[..., Alert], slack: NotificationChannel, slack_server: SlackServer, clock: Any
) -> None:
    fire_many(fire, 2, ["slack"])
    slack_server.rate_limit(retry_after=30, times=1)
    dispatch_step()
    long_pause = timezone.now() + timedelta(seconds=30)
    # Another dispatcher's message got a 5 s answer meanwhile.
    from alerts.channels import ChannelError
    from alerts.notifications.pause import pause_channel

    short = ChannelError("rate limited", permanent=False, retry_after=5, status=429)
    pause_channel(channel=slack, error=short, now=timezone.now())
    slack.refresh_from_db()
    assert slack.paused_until == long_pause

    with override_settings(NOTIFY_PAUSE_MAX_SECONDS=600):
        day = ChannelError("rate limited", permanent=False, retry_after=86400, status=429)
        pause_channel(channel=slack, error=day, now=timezone.now())
    slack.refresh_from_db()
    assert slack.paused_until == timezone.now() + timedelta(seconds=600)


def test_a_429_without_retry_after_or_a_500_pauses_nothing(
    fire: Callable[..., Alert], slack: NotificationChannel, slack_server: SlackServer, clock: Any
) -> None:
    slack_server.fail(429, times=1)
    slack_server.fail(500, headers={"Retry-After": "30"}, times=1)
    fire_many(fire, 2, ["slack"])
    dispatch_step()
    clock.shift(1)
    dispatch_step()

    slack.refresh_from_db()
    assert [r.status for r in slack_server.requests] == [429, 500]
    assert (slack.paused_until, slack.pause_reason) == (None, "")


def test_lifting_a_pause_lets_the_channel_send_again(
    fire: Callable[..., Alert], slack: NotificationChannel, slack_server: SlackServer, clock: Any
) -> None:
    NotificationChannel.objects.filter(pk=slack.pk).update(
        paused_until=timezone.now() + timedelta(minutes=5), pause_reason="429"
    )
    slack.refresh_from_db()
    assert resume_channel(channel=slack) is True
    fire(channels=["slack"])
    result = dispatch_step()
    assert result is not None and result.outcome == "delivered"
    assert resume_channel(channel=slack) is False


def test_the_dispatcher_sends_nothing_inside_the_window_on_the_real_clock(
    fire: Callable[..., Alert], slack: NotificationChannel, slack_server: SlackServer
) -> None:
    """One dispatch task, the wall clock, a loopback Slack answering 429 with Retry-After: 2."""
    fire_many(fire, 4, ["slack"])
    slack_server.rate_limit(retry_after=2, times=1)
    with override_settings(NOTIFY_SLACK_INTERVAL_SECONDS=0.1, NOTIFY_RETRY_BASE_SECONDS=0.2):
        started = time.monotonic()
        dispatch_due(budget=15)
        elapsed = time.monotonic() - started

    first, *rest = slack_server.requests
    assert first.status == 429 and [r.status for r in rest] == [200] * 4
    assert min(r.at for r in rest) - first.at >= timedelta(seconds=2)
    assert elapsed < 10  # it waited for the pause (NOTIFY_WAIT_SECONDS), not for a sweep
    assert set(Notification.objects.values_list("state", flat=True)) == {"delivered"}


# --- the admin shows it --------------------------------------------------------------------------


@pytest.fixture
def console(db: Any) -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw-123456789"))
    return client


def test_the_pause_shows_on_the_channel_list_and_change_page(
    console: Client, slack: NotificationChannel, clock: Any
) -> None:
    NotificationChannel.objects.filter(pk=slack.pk).update(
        paused_until=timezone.now() + timedelta(seconds=30),
        pause_reason="429 with Retry-After 30 s at 09:00:30 UTC",
    )
    listing = console.get("/admin/alerts/notificationchannel/").content.decode()
    page = console.get(f"/admin/alerts/notificationchannel/{slack.pk}/change/").content.decode()

    shown = "until 2026-11-02 09:01:00 UTC: 429 with Retry-After 30 s at 09:00:30 UTC"
    assert "paused by the vendor" in listing.lower() and shown in listing
    assert "paused by the vendor" in page.lower() and shown in page
    clock.shift(31)
    assert shown not in console.get("/admin/alerts/notificationchannel/").content.decode()
