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
    service_down: Rule, make_service: Callable[..., Service], round_of: Any, a_channel: Any
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


# Issue #11, item 1: suppression is decided every round from the current dependency graph, so a
# dependent left down after its cause recovers pages within one round.


def open_by_service() -> dict[str, list[str]]:
    """Open health alerts as {service: impacted}."""
    return {
        a.labels["service"]: list(a.details.get("impacted") or [])
        for a in health_alerts()
        if a.state != "resolved"
    }


def test_a_dependent_left_down_after_its_cause_recovers_pages_within_one_round(
    service_down: Rule, make_service: Callable[..., Service], round_of: Any
) -> None:
    payment = make_service("payment", critical=True)
    order = make_service("order", critical=True, depends_on=(payment,))
    round_of({payment: DOWN, order: DOWN})
    assert open_by_service() == {"payment": ["order"]}
    round_of({payment: DOWN, order: DOWN})
    assert open_by_service() == {"payment": ["order"]}
    recovered_at = timezone.now()
    round_of({payment: UP, order: DOWN})
    assert open_by_service() == {"order": []}
    order_alert = Alert.objects.get(labels__service="order")
    assert order_alert.state == "firing"
    assert order_alert.fired_at == recovered_at
    assert "connection refused" in order_alert.description
    [payment_alert] = Alert.objects.filter(labels__service="payment")
    assert payment_alert.state == "resolved"


def test_a_dependent_already_alerting_raises_nothing_new_in_later_rounds(
    service_down: Rule, make_service: Callable[..., Service], round_of: Any
) -> None:
    payment = make_service("payment", critical=True)
    order = make_service("order", critical=True, depends_on=(payment,))
    round_of({payment: DOWN, order: DOWN})
    round_of({payment: UP, order: DOWN})
    for _ in range(3):
        round_of({payment: UP, order: DOWN})
    assert [(a.labels["service"], a.state) for a in health_alerts()] == [
        ("payment", "resolved"),
        ("order", "firing"),
    ]
    round_of({payment: UP, order: UP})
    assert [(a.labels["service"], a.state) for a in health_alerts()] == [
        ("payment", "resolved"),
        ("order", "resolved"),
    ]


def test_with_real_thresholds_the_dependent_pages_in_the_round_its_cause_is_declared_up(
    service_down: Rule, make_service: Callable[..., Service], round_of: Any
) -> None:
    payment = make_service("payment", critical=True)
    order = make_service("order", critical=True, depends_on=(payment,))
    Service.objects.update(failure_threshold=3, success_threshold=2)
    payment.refresh_from_db()
    order.refresh_from_db()
    for _ in range(3):
        round_of({payment: DOWN, order: DOWN})
    assert open_by_service() == {"payment": ["order"]}
    round_of({payment: UP, order: DOWN})  # one success: payment is still down
    assert open_by_service() == {"payment": ["order"]}
    round_of({payment: UP, order: DOWN})  # two: payment is up, order is down on its own
    assert open_by_service() == {"order": []}


def test_a_chain_of_three_pages_each_link_as_the_one_before_it_recovers(
    service_down: Rule, make_service: Callable[..., Service], round_of: Any
) -> None:
    venue = make_service("venue", critical=False)
    event = make_service("event", critical=True, depends_on=(venue,))
    ticket = make_service("ticket", critical=True, depends_on=(event,))
    round_of({venue: DOWN, event: DOWN, ticket: DOWN})
    assert open_by_service() == {"venue": ["event", "ticket"]}
    venue_alert = Alert.objects.get(labels__service="venue")
    assert "Also down because of it: event, ticket." in venue_alert.description
    round_of({venue: UP, event: DOWN, ticket: DOWN})
    assert open_by_service() == {"event": ["ticket"]}
    round_of({venue: UP, event: DOWN, ticket: DOWN})
    assert open_by_service() == {"event": ["ticket"]}
    round_of({venue: UP, event: UP, ticket: DOWN})
    assert open_by_service() == {"ticket": []}
    round_of({venue: UP, event: UP, ticket: UP})
    assert open_by_service() == {}
    assert [(a.labels["service"], a.state) for a in health_alerts()] == [
        ("venue", "resolved"),
        ("event", "resolved"),
        ("ticket", "resolved"),
    ]


def test_a_dependent_with_two_causes_stays_quiet_until_both_recover(
    service_down: Rule, make_service: Callable[..., Service], round_of: Any
) -> None:
    payment = make_service("payment", critical=True)
    ticket = make_service("ticket", critical=True)
    order = make_service("order", critical=True, depends_on=(payment, ticket))
    round_of({payment: DOWN, ticket: DOWN, order: DOWN})
    assert open_by_service() == {"payment": ["order"], "ticket": ["order"]}
    round_of({payment: UP, ticket: DOWN, order: DOWN})
    assert open_by_service() == {"ticket": ["order"]}
    round_of({payment: UP, ticket: UP, order: DOWN})
    assert open_by_service() == {"order": []}


def test_a_service_down_rule_enabled_again_pages_for_a_service_still_down(
    service_down: Rule, make_service: Callable[..., Service], round_of: Any
) -> None:
    service_down.enabled = False
    service_down.save()
    payment = make_service("payment", critical=True)
    round_of({payment: DOWN})
    assert health_alerts() == []
    service_down.enabled = True
    service_down.save()
    round_of({payment: DOWN})
    assert open_by_service() == {"payment": []}


def test_services_in_a_stored_dependency_cycle_each_page_rather_than_hide_each_other(
    service_down: Rule, make_service: Callable[..., Service], round_of: Any
) -> None:
    payment = make_service("payment", critical=True)
    order = make_service("order", critical=True, depends_on=(payment,))
    payment.depends_on.set([order])  # the admin refuses this; an old graph may hold it
    round_of({payment: DOWN, order: DOWN})
    assert open_by_service() == {"order": ["payment"], "payment": ["order"]}


def test_a_disabled_service_resolves_its_alert_as_no_longer_monitored(
    service_down: Rule, make_service: Callable[..., Service], round_of: Any
) -> None:
    payment = make_service("payment", critical=True)
    round_of({payment: DOWN})
    Service.objects.filter(pk=payment.pk).update(enabled=False)
    round_of({})
    [alert] = health_alerts()
    assert alert.state == "resolved"
    last = alert.events.last()
    assert last is not None
    assert last.details["reason"] == "service no longer monitored"
