"""manage.py check_channels (and its deprecated name test_notifications): output, exit code."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test.utils import override_settings

from alerts.models import Notification, NotificationAttempt, NotificationChannel
from tests.support.fake_vendors import PagerDutyServer, SlackServer, WebhookReceiver
from tests.support.smtp import SmtpServer

pytestmark = pytest.mark.django_db


def run(*args: str) -> tuple[str, int]:
    out = io.StringIO()
    try:
        call_command("check_channels", *args, stdout=out, no_color=True)
    except CommandError as exc:
        return out.getvalue() + f"error: {exc}\n", exc.returncode
    return out.getvalue(), 0


def test_every_channel_delivered_prints_each_and_exits_zero(
    webhook: NotificationChannel,
    webhook_receiver: WebhookReceiver,
    slack: NotificationChannel,
    slack_server: SlackServer,
    pagerduty: NotificationChannel,
    pagerduty_server: PagerDutyServer,
) -> None:
    output, code = run()

    assert code == 0
    assert output.splitlines() == [
        "Ops webhook (webhook): delivered - 200 req-1",
        "PagerDuty (pagerduty): delivered - 202 " + pagerduty_server.events[0]["dedup_key"],
        "Slack (slack): delivered - 200",
        "3 delivered, 0 failed",
    ]
    # The PagerDuty test incident is resolved straight away.
    assert pagerduty_server.open_incidents() == []
    assert Notification.objects.filter(kind="test", state="delivered").count() == 3
    assert NotificationAttempt.objects.filter(outcome="delivered").count() == 3


def test_a_failing_channel_is_explained_and_the_exit_code_is_one(
    webhook: NotificationChannel,
    webhook_receiver: WebhookReceiver,
    email: NotificationChannel,
    smtp_server: SmtpServer,
) -> None:
    smtp_server.reject("ops@tickettoken.example")

    output, code = run()

    assert code == 1
    lines = output.splitlines()
    assert lines[0].startswith(
        "Email (email): FAILED - recipients refused (ops@tickettoken.example: 550)"
    )
    assert lines[1] == "Ops webhook (webhook): delivered - 200 req-1"
    assert lines[2:] == ["1 delivered, 1 failed", "error: 1 channel(s) failed"]
    email.refresh_from_db()
    assert "550" in email.last_error


def test_a_transient_failure_says_the_outbox_would_retry(
    webhook: NotificationChannel, webhook_receiver: WebhookReceiver
) -> None:
    webhook_receiver.fail(503)

    output, code = run("--channel", "Ops webhook")

    assert code == 1
    assert output.splitlines()[0] == (
        "Ops webhook (webhook): FAILED - server error (503): fault 503 "
        "(transient: the outbox would retry it)"
    )


def test_one_channel_by_name(
    webhook: NotificationChannel, webhook_receiver: WebhookReceiver, email: NotificationChannel
) -> None:
    output, code = run("--channel", "Email")

    assert code == 0
    assert output.splitlines() == [
        "Email (email): delivered - 250 " + NotificationAttempt.objects.get().receipt,
        "1 delivered, 0 failed",
    ]
    assert webhook_receiver.requests == []


def test_an_unknown_channel_name_lists_the_known_ones(email: NotificationChannel) -> None:
    output, code = run("--channel", "Nope")

    assert code == 1
    assert output == "error: No channel named 'Nope'. Channels: Email.\n"


def test_no_channel_at_all_exits_one_with_what_to_set(db: Any) -> None:
    output, code = run()

    assert code == 1
    assert "No enabled notification channel" in output


def test_the_pagerduty_service_is_checked_when_api_key_and_service_are_set(
    pagerduty: NotificationChannel,
) -> None:
    with PagerDutyServer(api_key="pd-api-key", services={"PSERVICE"}) as api:
        with override_settings(
            PAGERDUTY_EVENTS_URL=api.events_url,
            PAGERDUTY_API_URL=api.url,
            PAGERDUTY_API_KEY="pd-api-key",
            PAGERDUTY_SERVICE_ID="PSERVICE",
        ):
            output, code = run()
        with override_settings(
            PAGERDUTY_EVENTS_URL=api.events_url,
            PAGERDUTY_API_URL=api.url,
            PAGERDUTY_API_KEY="wrong",
            PAGERDUTY_SERVICE_ID="PSERVICE",
        ):
            bad_output, bad_code = run()

    assert code == 0
    assert "PagerDuty service PSERVICE (pagerduty): delivered - TicketToken is active" in output
    assert bad_code == 1
    assert (
        "PagerDuty service PSERVICE (pagerduty): FAILED - PagerDuty API answered 401" in bad_output
    )


def test_the_former_name_test_notifications_still_checks_and_says_it_is_deprecated(
    webhook: NotificationChannel, webhook_receiver: WebhookReceiver
) -> None:
    out, err = io.StringIO(), io.StringIO()
    call_command("test_notifications", stdout=out, stderr=err, no_color=True)
    assert "deprecated; use manage.py check_channels" in err.getvalue()
    assert "Ops webhook (webhook): delivered - 200 req-1" in out.getvalue()
    assert len(webhook_receiver.requests) == 1
