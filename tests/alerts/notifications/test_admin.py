"""The channel and policy admin: validated configuration, send test, disable, recent attempts."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from alerts.models import NotificationChannel
from tests.support.fake_vendors import WebhookReceiver

pytestmark = pytest.mark.django_db


@pytest.fixture
def console(db: Any) -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw-123456789"))
    return client


def test_a_channel_with_a_bad_configuration_is_not_saved_and_the_field_is_named(
    console: Client,
) -> None:
    response = console.post(
        "/admin/alerts/notificationchannel/add/",
        {
            "name": "Pager",
            "kind": "pagerduty",
            "enabled": "on",
            "pagerduty_routing_key": "short",
        },
    )

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert errors["config"] == [
        "routing_key: Expected the 32-character integration key of an Events API v2 integration."
    ]
    assert not NotificationChannel.objects.exists()


def test_an_http_webhook_is_refused_unless_allowed(console: Client, settings: Any) -> None:
    settings.ALLOW_HTTP_WEBHOOKS = False
    response = console.post(
        "/admin/alerts/notificationchannel/add/",
        {
            "name": "Hook",
            "kind": "webhook",
            "config": '{"url": "http://receiver.example.com/x"}',
            "webhook_secret": "0123456789abcdef",
        },
    )

    errors = response.context["adminform"].form.errors
    assert "url: The URL must use https" in errors["config"][0]
    assert not NotificationChannel.objects.exists()


def test_the_check_channels_action_reports_each_channel_and_records_the_attempt(
    console: Client, webhook: NotificationChannel, webhook_receiver: WebhookReceiver
) -> None:
    response = console.post(
        "/admin/alerts/notificationchannel/",
        {"action": "check_channels", "_selected_action": [webhook.pk]},
        follow=True,
    )

    shown = [str(m) for m in response.context["messages"]]
    assert shown == ["Ops webhook (webhook): delivered - 200 req-1"]
    assert len(webhook_receiver.requests) == 1
    page = console.get(f"/admin/alerts/notificationchannel/{webhook.pk}/change/").content.decode()
    assert "Recent attempts (last 20)" in page and "req-1" in page


def test_the_disable_action_disables_and_says_who(
    console: Client, webhook: NotificationChannel
) -> None:
    console.post(
        "/admin/alerts/notificationchannel/",
        {"action": "disable", "_selected_action": [webhook.pk]},
    )

    webhook.refresh_from_db()
    assert (webhook.enabled, webhook.disabled_reason) == (False, "disabled by root in the admin")
    assert webhook.history.first().history_change_reason == "disabled by root in the admin"


def test_the_policy_and_outbox_pages_render(console: Client, make_policy: Any, email: Any) -> None:
    policy = make_policy("Critical", ("On-call engineer", 5, [email]))

    assert console.get("/admin/alerts/escalationpolicy/").status_code == 200
    assert console.get(f"/admin/alerts/escalationpolicy/{policy.pk}/change/").status_code == 200
    assert console.get("/admin/alerts/notification/").status_code == 200
