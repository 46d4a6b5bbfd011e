"""Fixtures of the silence tests: email channels (Django's outbox), a policy, firing alerts."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import transaction
from django.test.utils import override_settings
from django.utils import timezone

from alerts.models import (
    Alert,
    EscalationLevel,
    EscalationPolicy,
    Notification,
    NotificationChannel,
    Rule,
    Silence,
)
from alerts.services import open_alert
from alerts.silences.services import create_silence


@pytest.fixture(autouse=True)
def _silence_settings() -> Iterator[None]:
    with override_settings(
        SITE_URL="https://monitor.example.com",
        ALERT_FROM_EMAIL="alerts@tickettoken.example",
        EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
        ESCALATION_MAX_REMINDERS=2,
        SILENCE_MAX_DAYS=30,
    ):
        yield


def _email(name: str, address: str, **fields: Any) -> NotificationChannel:
    channel = NotificationChannel(name=name, kind="email", config={"to": [address]}, **fields)
    channel.full_clean()
    channel.save()
    return channel


@pytest.fixture
def ops_email(db: Any) -> NotificationChannel:
    """The channel rules reach by naming the "email" kind."""
    return _email("Ops email", "ops@tickettoken.example")


@pytest.fixture
def people(db: Any) -> dict[str, NotificationChannel]:
    def person(name: str, address: str) -> NotificationChannel:
        return _email(f"{name} email", address, for_rule_kinds=False)

    return {
        "oncall": person("On-call engineer", "oncall@tickettoken.example"),
        "lead": person("Team lead", "lead@tickettoken.example"),
    }


@pytest.fixture
def critical(people: dict[str, NotificationChannel]) -> EscalationPolicy:
    """Critical: on-call for 5 minutes, then the team lead every 15 minutes."""
    policy = EscalationPolicy.objects.create(name="Critical")
    for position, (name, wait, channel) in enumerate(
        [("On-call engineer", 5, people["oncall"]), ("Team lead", 15, people["lead"])], start=1
    ):
        level = EscalationLevel.objects.create(
            policy=policy, position=position, name=name, wait_minutes=wait
        )
        level.channels.set([channel])
    return policy


@pytest.fixture
def fire(make_rule: Callable[..., Rule]) -> Callable[..., Alert]:
    """Open an alert that fires at once, as the engine does (inside its transaction)."""

    def make(
        *,
        labels: dict[str, str] | None = None,
        severity: str = "warning",
        rule: Rule | None = None,
        **fields: Any,
    ) -> Alert:
        made = rule or make_rule(channels=["email"], severity=severity, for_seconds=0, **fields)
        with transaction.atomic():
            alert = open_alert(
                rule=made,
                source=Alert.Source.RULE,
                labels=labels if labels is not None else {"service": "payment"},
                value=250.0,
                now=timezone.now(),
            )
        assert alert is not None and alert.state == Alert.State.FIRING
        return alert

    return make


@pytest.fixture
def silence(clock: Any, operator: User) -> Callable[..., Silence]:
    """A silence starting now for ``minutes`` (matchers as (name, op, value) triples)."""

    def make(*matchers: tuple[str, str, str], minutes: float = 60, **fields: Any) -> Silence:
        return create_silence(
            matchers=[{"name": n, "op": op, "value": v} for n, op, v in matchers],
            starts_at=fields.pop("starts_at", None),
            ends_at=timezone.now() + timedelta(minutes=minutes),
            comment=fields.pop("comment", "deploying payment v2"),
            user=operator,
        )

    return make


def rows(**filters: Any) -> list[tuple[str, str, int | None]]:
    """(channel name, kind, escalation level) of the outbox rows, in the order written."""
    return list(
        Notification.objects.filter(**filters)
        .order_by("pk")
        .values_list("channel__name", "kind", "escalation_level")
    )
