"""Channel secrets in the admin: write-only in forms, masked on every page and in history (#10.3).

Slack webhook URLs and bot tokens, PagerDuty routing keys and webhook signing secrets are never
shown back, to operators or to superusers: not on the change page, not on the history pages,
not in the admin log. The migration masks those already stored in history rows.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

import pytest
from django.apps import apps
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import User
from django.test import Client

from alerts.models import NotificationChannel

pytestmark = pytest.mark.django_db

PAGE = "/admin/alerts/notificationchannel"
SLACK_URL = "https://hooks.slack.com/services/T0000/B0000/sLaCkSeCrEtPaTh0001"
SLACK_TOKEN = "xoxb-1111-2222-bOtToKeNsEcReT0002"
ROUTING_KEY = "R0UT1NGKEY0123456789abcdefSECRET"
HMAC_SECRET = "hmac-signing-secret-0003"
SECRETS = (SLACK_URL, SLACK_TOKEN, ROUTING_KEY, HMAC_SECRET)


@pytest.fixture
def channels(make_channel: Callable[..., NotificationChannel]) -> list[NotificationChannel]:
    return [
        make_channel("Slack hook", "slack", {"webhook_url": SLACK_URL}),
        make_channel("Slack bot", "slack", {"token": SLACK_TOKEN, "channel": "#ops"}),
        make_channel("Pager", "pagerduty", {"routing_key": ROUTING_KEY}),
        make_channel(
            "Hook", "webhook", {"url": "https://hooks.example.com/in", "secret": HMAC_SECRET}
        ),
    ]


def logged_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def superuser(db: Any) -> User:
    return User.objects.create_superuser("root", "root@example.com", "pw-123456789")


def leaked(text: str) -> list[str]:
    """The secrets (or a telling part of one) found in ``text``."""
    return [secret for secret in SECRETS if secret in text or secret[4:-4] in text]


def pages_of(client: Client, channel: NotificationChannel) -> str:
    """Every admin page of the channel, concatenated: list, change, history and its versions."""
    html = [client.get(f"{PAGE}/").content.decode()]
    html.append(client.get(f"{PAGE}/{channel.pk}/change/").content.decode())
    html.append(client.get(f"{PAGE}/{channel.pk}/history/").content.decode())
    for version in channel.history.all():
        html.append(
            client.get(f"{PAGE}/{channel.pk}/history/{version.history_id}/").content.decode()
        )
    assert all(page for page in html)
    return "\n".join(html)


def change_form(channel: NotificationChannel, **fields: str) -> dict[str, str]:
    from alerts.channels.secrets import public_config

    data = {
        "name": channel.name,
        "kind": channel.kind,
        "config": __import__("json").dumps(public_config(channel.config)),
        "disabled_reason": "",
        "enabled": "on",
        "for_rule_kinds": "on",
    }
    data.update(fields)
    return data


@pytest.mark.parametrize("who", ["operator", "admin", "superuser"])
def test_no_page_of_the_admin_shows_a_channel_secret_to_anyone(
    channels: list[NotificationChannel], who: str, request: pytest.FixtureRequest
) -> None:
    from monitoring_site.bootstrap import seed_roles

    seed_roles(lambda line: None)
    client = logged_in(request.getfixturevalue(who))
    for channel in channels:
        channel.name += " (renamed)"  # a second history version
        channel.save()
        html = pages_of(client, channel)
        assert leaked(html) == [], channel.name
    assert "••••" in html  # the webhook secret shows masked, with its last four characters
    assert "••••0003" in html


def test_the_change_form_keeps_a_secret_left_blank_and_replaces_it_when_one_is_typed(
    superuser: User, channels: list[NotificationChannel]
) -> None:
    pager = channels[2]
    client = logged_in(superuser)
    new_key = "N3WKEY0123456789abcdefNEWSECRET1"

    kept = client.post(f"{PAGE}/{pager.pk}/change/", change_form(pager, disabled_reason="x"))
    pager.refresh_from_db()
    assert kept.status_code == 302
    assert pager.config == {"routing_key": ROUTING_KEY}

    replaced = client.post(
        f"{PAGE}/{pager.pk}/change/", change_form(pager, pagerduty_routing_key=new_key)
    )
    pager.refresh_from_db()
    assert replaced.status_code == 302
    assert pager.config == {"routing_key": new_key}
    history = [row.config["routing_key"] for row in pager.history.order_by("history_id")]
    assert history == ["••••CRET", "••••CRET", "••••RET1"]


def test_a_secret_typed_into_the_settings_is_refused_and_named(superuser: User) -> None:
    response = logged_in(superuser).post(
        f"{PAGE}/add/",
        {"name": "Pager", "kind": "pagerduty", "config": f'{{"routing_key": "{ROUTING_KEY}"}}'},
    )

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert errors["config"][0] == (
        "routing_key is a secret: enter it in the field 'PagerDuty routing key'."
    )
    assert not NotificationChannel.objects.exists()


def test_a_secret_of_another_kind_is_refused_not_dropped(superuser: User) -> None:
    response = logged_in(superuser).post(
        f"{PAGE}/add/",
        {"name": "Mail", "kind": "email", "config": '{"to": ["ops@example.com"]}'}
        | {"webhook_secret": HMAC_SECRET},
    )

    errors = response.context["adminform"].form.errors
    assert errors["webhook_secret"] == ["This is a webhook secret; the channel is email."]
    assert not NotificationChannel.objects.exists()


def test_a_new_slack_channel_takes_its_webhook_url_from_the_write_only_field(
    superuser: User,
) -> None:
    response = logged_in(superuser).post(
        f"{PAGE}/add/",
        {"name": "Slack", "kind": "slack", "config": "{}", "slack_webhook_url": SLACK_URL},
    )

    assert response.status_code == 302
    channel = NotificationChannel.objects.get()
    assert channel.config == {"webhook_url": SLACK_URL}
    page = logged_in(superuser).get(f"{PAGE}/{channel.pk}/change/").content.decode()
    assert leaked(page) == []
    assert "Stored: ••••0001. Leave blank to keep it." in page


def test_the_admin_log_names_the_changed_fields_but_never_a_secret(
    superuser: User, channels: list[NotificationChannel]
) -> None:
    hook = channels[3]
    logged_in(superuser).post(
        f"{PAGE}/{hook.pk}/change/", change_form(hook, webhook_secret="another-secret-value-99")
    )

    entry = LogEntry.objects.get(object_id=str(hook.pk))
    assert "Webhook signing secret" in entry.get_change_message()
    assert "another-secret" not in entry.change_message + entry.object_repr
    assert leaked(entry.change_message + entry.object_repr) == []


def test_reverting_to_an_old_version_keeps_the_current_secrets(
    superuser: User, channels: list[NotificationChannel]
) -> None:
    hook = channels[3]
    first = hook.history.get()
    hook.config = {**hook.config, "receiver": "ops"}
    hook.save()

    response = logged_in(superuser).post(
        f"{PAGE}/{hook.pk}/history/{first.history_id}/",
        change_form(hook, config='{"url": "https://hooks.example.com/in"}'),
    )

    assert response.status_code == 302
    hook.refresh_from_db()
    assert hook.config == {"url": "https://hooks.example.com/in", "secret": HMAC_SECRET}


def test_the_migration_masks_secrets_already_stored_in_history(
    channels: list[NotificationChannel],
) -> None:
    history = apps.get_model("alerts", "HistoricalNotificationChannel")
    for channel in channels:  # as rows written before masking on write
        history.objects.filter(id=channel.pk).update(config=channel.config)
    assert leaked(str(list(history.objects.values_list("config", flat=True)))) != []

    migration = importlib.import_module("alerts.migrations.0005_scrub_channel_secrets")
    migration.scrub_history(apps, None)

    stored = {row.name: row.config for row in history.objects.all()}
    assert leaked(str(stored)) == []
    assert stored == {
        "Slack hook": {"webhook_url": "••••0001"},
        "Slack bot": {"token": "••••0002", "channel": "#ops"},
        "Pager": {"routing_key": "••••CRET"},
        "Hook": {"url": "https://hooks.example.com/in", "secret": "••••0003"},
    }


def test_every_secret_of_every_kind_has_its_write_only_field() -> None:
    from alerts.admin.notifications import NotificationChannelForm, secret_field_name
    from alerts.channels.secrets import all_secret_keys

    fields = NotificationChannelForm.base_fields
    for kind, key in all_secret_keys():
        widget = fields[secret_field_name(kind, key)].widget
        assert (widget.input_type, widget.render_value) == ("password", False), (kind, key)
