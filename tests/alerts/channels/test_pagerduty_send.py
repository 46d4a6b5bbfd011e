"""PagerDuty Events API v2 against a server on 127.0.0.1 that keeps incidents by dedup_key."""

from __future__ import annotations

from dataclasses import replace

import pytest

from alerts.channels.base import AlertMessage, ChannelError
from alerts.channels.pagerduty import PagerDutyChannel, dedup_key
from tests.support.fake_vendors import PagerDutyServer

from .conftest import RESOLVED, ROUTING_KEY


@pytest.fixture
def channel() -> PagerDutyChannel:
    return PagerDutyChannel({"routing_key": ROUTING_KEY})


def send_error(channel: PagerDutyChannel, message: AlertMessage) -> ChannelError:
    with pytest.raises(ChannelError) as caught:
        channel.send(message)
    return caught.value


def test_a_trigger_opens_an_incident_and_returns_its_dedup_key(
    channel: PagerDutyChannel, pagerduty_server: PagerDutyServer, message: AlertMessage
) -> None:
    receipt = channel.send(message)

    assert (receipt.status, receipt.message_id, receipt.detail) == (
        202,
        dedup_key(message),
        "Event processed",
    )
    assert pagerduty_server.events == [channel.build(message)]
    [incident] = pagerduty_server.incidents
    assert (incident.dedup_key, incident.status, incident.severity) == (
        dedup_key(message),
        "triggered",
        "critical",
    )


def test_repeated_triggers_of_one_alert_fold_into_one_incident(
    channel: PagerDutyChannel, pagerduty_server: PagerDutyServer, message: AlertMessage
) -> None:
    channel.send(message)
    channel.send(message)  # a duplicate after a crash between sending and recording
    channel.send(replace(message, event="escalated", escalation_level=2))

    [incident] = pagerduty_server.incidents
    assert len(incident.events) == 3
    assert len(pagerduty_server.open_incidents()) == 1


def test_acknowledge_then_resolve_close_the_same_incident(
    channel: PagerDutyChannel, pagerduty_server: PagerDutyServer, message: AlertMessage
) -> None:
    channel.send(message)
    acknowledged = channel.send(replace(message, event="acknowledged", acknowledged_by="otto"))
    assert [i.status for i in pagerduty_server.incidents] == ["acknowledged"]

    resolved = channel.send(replace(message, event="resolved", resolved_at=RESOLVED))

    assert [i.status for i in pagerduty_server.incidents] == ["resolved"]
    assert pagerduty_server.open_incidents() == []
    assert acknowledged.message_id == resolved.message_id == dedup_key(message)


def test_two_alerts_open_two_incidents(
    channel: PagerDutyChannel, pagerduty_server: PagerDutyServer, message: AlertMessage
) -> None:
    channel.send(message)
    channel.send(replace(message, alert_id=43, labels={"service": "order"}))

    assert len(pagerduty_server.open_incidents()) == 2


def test_a_test_message_triggers_and_resolves_so_no_incident_stays_open(
    channel: PagerDutyChannel, pagerduty_server: PagerDutyServer, message: AlertMessage
) -> None:
    receipt = channel.send(replace(message, event="test", severity="info"))

    assert [e["event_action"] for e in pagerduty_server.events] == ["trigger", "resolve"]
    assert pagerduty_server.open_incidents() == []
    assert receipt.detail == "test incident triggered and resolved"


def test_a_500_is_transient(
    channel: PagerDutyChannel, pagerduty_server: PagerDutyServer, message: AlertMessage
) -> None:
    pagerduty_server.fail(500, times=1)

    error = send_error(channel, message)

    assert (error.permanent, error.status) == (False, 500)
    assert pagerduty_server.incidents == []


def test_a_400_invalid_event_is_permanent(
    pagerduty_server: PagerDutyServer, message: AlertMessage
) -> None:
    pagerduty_server.routing_keys = {"A" * 32}

    error = send_error(PagerDutyChannel({"routing_key": ROUTING_KEY}), message)

    assert (error.permanent, error.status) == (True, 400)
    assert "not an integration key" in error.message


def test_a_429_carries_retry_after(
    channel: PagerDutyChannel, pagerduty_server: PagerDutyServer, message: AlertMessage
) -> None:
    pagerduty_server.rate_limit(retry_after=3)

    error = send_error(channel, message)

    assert (error.permanent, error.status, error.retry_after) == (False, 429, 3.0)


def test_a_429_without_retry_after_is_transient_without_a_floor(
    channel: PagerDutyChannel, pagerduty_server: PagerDutyServer, message: AlertMessage
) -> None:
    pagerduty_server.fail(429)

    error = send_error(channel, message)

    assert (error.permanent, error.retry_after) == (False, None)


def test_a_hanging_events_api_times_out_as_transient(
    channel: PagerDutyChannel, pagerduty_server: PagerDutyServer, message: AlertMessage
) -> None:
    pagerduty_server.hang(seconds=10)

    error = send_error(channel, message)

    assert error.permanent is False
    assert error.message.startswith("unreachable: ReadTimeout")


def test_a_dropped_connection_is_transient_and_the_retry_opens_one_incident(
    channel: PagerDutyChannel, pagerduty_server: PagerDutyServer, message: AlertMessage
) -> None:
    pagerduty_server.close_connection()

    error = send_error(channel, message)
    channel.send(message)

    assert error.permanent is False
    assert len(pagerduty_server.incidents) == 1


def test_the_events_url_is_never_redirected(
    channel: PagerDutyChannel, pagerduty_server: PagerDutyServer, message: AlertMessage
) -> None:
    pagerduty_server.redirect(pagerduty_server.events_url, status=307)

    error = send_error(channel, message)

    assert (error.permanent, error.status) == (True, 307)
    assert len(pagerduty_server.requests) == 1
