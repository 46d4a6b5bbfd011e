"""Maintenance windows: the listed services' alerts, and their service_down, stay quiet."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.utils import timezone

from alerts.bootstrap import seed
from alerts.health_alerts import raise_service_down, resolve_service_down
from alerts.models import Alert, AlertEvent, MaintenanceWindow, NotificationChannel, Rule
from alerts.silences.services import create_maintenance_window, expire_maintenance_window
from health.models import Service
from tests.alerts.silences.conftest import rows

pytestmark = pytest.mark.django_db


@pytest.fixture
def service_down(ops_email: NotificationChannel) -> Rule:
    seed(lambda line: None)
    rule = Rule.objects.get(slug="service_down")
    rule.channels = ["email"]
    rule.save()
    return rule


@pytest.fixture
def payment(db: Any) -> Service:
    return Service.objects.create(
        slug="payment", name="Payment", target="http://payment:3004", critical=True, state="up"
    )


@pytest.fixture
def order(db: Any) -> Service:
    return Service.objects.create(
        slug="order", name="Order", target="http://order:3014", critical=True, state="up"
    )


@pytest.fixture
def window(clock: Any, admin: User, payment: Service) -> MaintenanceWindow:
    return create_maintenance_window(
        name="Payment database upgrade",
        services=["payment"],
        starts_at=None,
        ends_at=timezone.now() + timedelta(hours=2),
        comment="CHG-1234",
        user=admin,
    )


def test_a_maintenance_window_suppresses_service_down_of_its_services_only(
    service_down: Rule, payment: Service, order: Service, window: MaintenanceWindow, clock: Any
) -> None:
    muted = raise_service_down(rule=service_down, service=payment, at=timezone.now())
    loud = raise_service_down(rule=service_down, service=order, at=timezone.now())

    assert muted is not None and loud is not None
    assert rows(alert=muted) == []
    assert rows(alert=loud) == [("Ops email", "firing", None)]
    firing = AlertEvent.objects.get(alert=muted, kind="firing")
    assert firing.details["suppressed"] == f"maintenance_window:{window.pk}"


def test_a_service_back_within_the_window_resolves_quietly(
    service_down: Rule, payment: Service, window: MaintenanceWindow, clock: Any
) -> None:
    alert = raise_service_down(rule=service_down, service=payment, at=timezone.now())
    assert alert is not None
    clock.shift(600)

    resolve_service_down(rule=service_down, service=payment, at=timezone.now())

    alert.refresh_from_db()
    assert alert.state == Alert.State.RESOLVED
    assert rows() == []


def test_a_rule_alert_labelled_with_the_service_is_suppressed_too(
    fire: Callable[..., Alert], window: MaintenanceWindow, clock: Any
) -> None:
    alert = fire(labels={"service": "payment", "endpoint": "/charge"})

    assert AlertEvent.objects.get(alert=alert, kind="firing").details["suppressed"] == (
        f"maintenance_window:{window.pk}"
    )


def test_an_expired_window_no_longer_mutes(
    service_down: Rule, payment: Service, window: MaintenanceWindow, admin: User, clock: Any
) -> None:
    clock.shift(60)
    expire_maintenance_window(window=window, user=admin)

    alert = raise_service_down(rule=service_down, service=payment, at=timezone.now())

    assert rows(alert=alert) == [("Ops email", "firing", None)]
    window.refresh_from_db()
    assert window.state(timezone.now()) == "expired"


def test_a_window_over_an_unknown_service_is_refused(admin: User, payment: Service) -> None:
    with pytest.raises(ValidationError) as caught:
        create_maintenance_window(
            name="typo",
            services=["payment", "paymnet"],
            starts_at=None,
            ends_at=timezone.now() + timedelta(hours=1),
            comment="",
            user=admin,
        )

    assert caught.value.message_dict == {"services": ["Unknown service(s): paymnet."]}
    assert MaintenanceWindow.objects.count() == 0
