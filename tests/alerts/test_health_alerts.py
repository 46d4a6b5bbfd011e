"""Health alerts through health's real hand-off: a round's state changes after it commits."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.utils import timezone

from alerts.bootstrap import seed
from alerts.models import Alert, Rule
from health.models import Service
from health.probes.base import ProbeResult
from health.services import record_round

pytestmark = pytest.mark.django_db

UP = ProbeResult("up")
DOWN = ProbeResult.down("connection refused")


@pytest.fixture
def service_down(db: Any) -> Rule:
    seed(lambda line: None)
    return Rule.objects.get(slug="service_down")


@pytest.fixture
def make_service(db: Any) -> Callable[..., Service]:
    def make(slug: str, *, critical: bool, depends_on: tuple[Service, ...] = ()) -> Service:
        service = Service.objects.create(
            slug=slug,
            name=slug.title(),
            target=f"http://{slug}:3000",
            critical=critical,
            failure_threshold=1,
            success_threshold=1,
            state="up",
        )
        service.depends_on.set(depends_on)
        return service

    return make


@pytest.fixture
def round_of(django_capture_on_commit_callbacks: Any, clock: Any) -> Callable[..., None]:
    """Record one health round (results by service) and run its after-commit hand-off."""

    def run(results: dict[Service, ProbeResult]) -> None:
        with django_capture_on_commit_callbacks(execute=True):
            record_round(
                results={service.pk: result for service, result in results.items()},
                checked_at=timezone.now(),
            )
        clock.shift(60)

    return run


def health_alerts() -> list[Alert]:
    return list(Alert.objects.filter(source="health").order_by("pk"))


def test_a_critical_service_going_down_fires_a_service_down_alert(
    service_down: Rule, make_service: Callable[..., Service], round_of: Any
) -> None:
    payment = make_service("payment", critical=True)
    round_of({payment: DOWN})
    [alert] = health_alerts()
    assert alert.state == "firing"
    assert alert.rule == service_down
    assert alert.severity == "critical"
    assert alert.labels == {"service": "payment"}
    assert alert.summary == "payment is down"
    assert "connection refused" in alert.description
    assert list(alert.events.values_list("kind", "actor")) == [
        ("pending", "health"),
        ("firing", "health"),
    ]


def test_the_alert_resolves_when_the_service_is_back(
    service_down: Rule, make_service: Callable[..., Service], round_of: Any
) -> None:
    payment = make_service("payment", critical=True)
    round_of({payment: DOWN})
    round_of({payment: DOWN})
    round_of({payment: UP})
    [alert] = health_alerts()
    assert alert.state == "resolved"
    last_event = alert.events.last()
    assert last_event is not None
    assert last_event.details["reason"] == "service recovered"


def test_a_non_critical_service_going_down_raises_no_alert(
    service_down: Rule, make_service: Callable[..., Service], round_of: Any
) -> None:
    search = make_service("search", critical=False)
    round_of({search: DOWN})
    assert health_alerts() == []


def test_services_down_because_of_a_dependency_raise_none_and_are_listed_on_its_alert(
    service_down: Rule, make_service: Callable[..., Service], round_of: Any
) -> None:
    payment = make_service("payment", critical=True)
    ticket = make_service("ticket", critical=True)
    order = make_service("order", critical=True, depends_on=(payment, ticket))
    marketplace = make_service("marketplace", critical=False, depends_on=(payment,))
    round_of({payment: DOWN, order: DOWN, marketplace: DOWN, ticket: UP})
    [alert] = health_alerts()
    assert alert.labels == {"service": "payment"}
    assert alert.details["impacted"] == ["marketplace", "order"]
    assert "Also down because of it: marketplace, order." in alert.description


def test_a_dependent_that_falls_later_is_added_to_the_dependencys_alert(
    service_down: Rule, make_service: Callable[..., Service], round_of: Any
) -> None:
    payment = make_service("payment", critical=True)
    order = make_service("order", critical=True, depends_on=(payment,))
    round_of({payment: DOWN, order: UP})
    round_of({payment: DOWN, order: DOWN})
    [alert] = health_alerts()
    assert alert.details["impacted"] == ["order"]
    round_of({payment: UP, order: UP})
    assert [a.state for a in health_alerts()] == ["resolved"]


def test_a_non_critical_dependency_taking_a_critical_service_down_alerts(
    service_down: Rule, make_service: Callable[..., Service], round_of: Any
) -> None:
    venue = make_service("venue", critical=False)
    event = make_service("event", critical=True, depends_on=(venue,))
    round_of({venue: DOWN, event: DOWN})
    [alert] = health_alerts()
    assert alert.labels == {"service": "venue"}
    assert alert.details["impacted"] == ["event"]


def test_a_disabled_service_down_rule_raises_nothing(
    service_down: Rule, make_service: Callable[..., Service], round_of: Any
) -> None:
    service_down.enabled = False
    service_down.save()
    payment = make_service("payment", critical=True)
    round_of({payment: DOWN})
    assert health_alerts() == []
