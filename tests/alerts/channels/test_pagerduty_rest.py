"""PagerDuty's REST API v2 (the original's PAGERDUTY_API_KEY, PAGERDUTY_SERVICE_ID), locally."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from urllib.parse import parse_qs

import pytest
import requests
from django.core.exceptions import ValidationError
from django.test.utils import override_settings

from alerts.channels.base import AlertMessage, ChannelError
from alerts.channels.pagerduty import PagerDutyChannel, dedup_key
from tests.support.fake_pagerduty_rest import MEDIA_TYPE
from tests.support.fake_vendors import PagerDutyServer

from .conftest import RESOLVED, ROUTING_KEY

API_KEY = "u+Pd_REST-ApiKey0123"
SERVICE = "PWIXJZS"
SENDER = "oncall-bot@tickettoken.example"
CONFIG = {"api_key": API_KEY, "service_id": SERVICE, "from": SENDER}


@pytest.fixture
def api() -> Iterator[PagerDutyServer]:
    server = PagerDutyServer(api_key=API_KEY, services={SERVICE}, users={SENDER})
    with server, override_settings(PAGERDUTY_API_URL=server.url):
        yield server


@pytest.fixture
def channel() -> PagerDutyChannel:
    return PagerDutyChannel(dict(CONFIG))


def send_error(channel: PagerDutyChannel, message: AlertMessage) -> ChannelError:
    with pytest.raises(ChannelError) as caught:
        channel.send(message)
    return caught.value


def test_a_firing_alert_creates_an_incident_keyed_by_the_alert(
    channel: PagerDutyChannel, api: PagerDutyServer, message: AlertMessage
) -> None:
    receipt = channel.send(message)

    [incident] = api.rest_incidents
    assert (receipt.status, receipt.message_id, receipt.detail) == (
        201,
        incident.id,
        "incident #1 triggered",
    )
    assert (incident.incident_key, incident.service_id, incident.urgency, incident.status) == (
        dedup_key(message),
        SERVICE,
        "high",
        "triggered",
    )
    assert incident.title == (
        "[CRITICAL] High payment error rate (env=prod, service=payment): "
        "Payment errors at 12.5% (over 5%)"
    )
    [request] = api.requests
    assert (request.method, request.path, request.json()) == (
        "POST",
        "/incidents",
        channel.build(message),
    )
    assert (request.header("authorization"), request.header("from")) == (
        f"Token token={API_KEY}",
        SENDER,
    )
    assert request.header("accept") == MEDIA_TYPE


def test_the_incident_body_carries_value_labels_and_links(
    channel: PagerDutyChannel, message: AlertMessage
) -> None:
    body = channel.build(message)["incident"]["body"]

    assert body["type"] == "incident_body"
    assert "Value: 12.5 (> threshold 5)" in body["details"]
    assert "Labels: env=prod, service=payment" in body["details"]
    assert "View the alert: https://monitor.example.com/alerts/42" in body["details"]
    assert "Acknowledge: https://monitor.example.com/alerts/ack/tok123" in body["details"]


@pytest.mark.parametrize(
    ("severity", "urgency"),
    [("critical", "high"), ("error", "high"), ("warning", "low"), ("info", "low")],
)
def test_severity_sets_the_urgency(
    channel: PagerDutyChannel, message: AlertMessage, severity: str, urgency: str
) -> None:
    built = channel.build(replace(message, severity=severity))

    assert built["incident"]["urgency"] == urgency


def test_repeated_triggers_of_one_alert_fold_into_its_open_incident(
    channel: PagerDutyChannel, api: PagerDutyServer, message: AlertMessage
) -> None:
    first = channel.send(message)
    again = channel.send(message)  # a duplicate after a crash between sending and recording
    escalated = channel.send(replace(message, event="escalated", escalation_level=2))

    [incident] = api.rest_incidents
    assert first.message_id == again.message_id == escalated.message_id == incident.id
    assert (again.detail, escalated.detail) == ("incident already open", "incident already open")
    # PagerDuty refused the two later creations (400, code 2002); the open incident was used.
    assert [(r.method, r.path, r.status) for r in api.requests] == [
        ("POST", "/incidents", 201),
        ("POST", "/incidents", 400),
        ("GET", "/incidents", 200),
        ("POST", "/incidents", 400),
        ("GET", "/incidents", 200),
    ]


def test_acknowledge_then_resolve_reach_the_incident_as_the_configured_user(
    channel: PagerDutyChannel, api: PagerDutyServer, message: AlertMessage
) -> None:
    channel.send(message)
    acknowledged = channel.send(replace(message, event="acknowledged", acknowledged_by="otto"))
    resolved = channel.send(replace(message, event="resolved", resolved_at=RESOLVED))

    [incident] = api.rest_incidents
    assert incident.log == [
        ("triggered", SENDER),
        ("acknowledged", SENDER),
        ("resolved", SENDER),
    ]
    assert (acknowledged.status, acknowledged.message_id, acknowledged.detail) == (
        200,
        incident.id,
        "incident acknowledged",
    )
    assert (resolved.message_id, resolved.detail) == (incident.id, "incident resolved")
    assert api.open_rest_incidents() == []


def test_the_incident_is_found_by_its_key_open_status_and_service(
    channel: PagerDutyChannel, api: PagerDutyServer, message: AlertMessage
) -> None:
    channel.send(message)
    channel.send(replace(message, event="resolved", resolved_at=RESOLVED))

    [lookup] = [r for r in api.requests if r.method == "GET"]
    assert parse_qs(lookup.query) == {
        "incident_key": [dedup_key(message)],
        "statuses[]": ["triggered", "acknowledged"],
        "service_ids[]": [SERVICE],
        "date_range": ["all"],
    }
    [update] = [r for r in api.requests if r.method == "PUT"]
    assert update.json() == {"incident": {"type": "incident_reference", "status": "resolved"}}


def test_an_acknowledgement_repeated_or_without_an_incident_changes_nothing(
    channel: PagerDutyChannel, api: PagerDutyServer, message: AlertMessage
) -> None:
    nothing = channel.send(replace(message, event="acknowledged"))
    channel.send(message)
    channel.send(replace(message, event="acknowledged"))
    repeated = channel.send(replace(message, event="acknowledged"))

    assert (nothing.status, nothing.detail) == (200, "no incident to mark acknowledged")
    assert repeated.detail == "no incident to mark acknowledged"
    assert [status for status, _ in api.rest_incidents[0].log] == ["triggered", "acknowledged"]


def test_two_alerts_open_two_incidents(
    channel: PagerDutyChannel, api: PagerDutyServer, message: AlertMessage
) -> None:
    channel.send(message)
    channel.send(replace(message, alert_id=43, labels={"service": "order"}))

    assert len(api.open_rest_incidents()) == 2


def test_a_test_message_creates_and_resolves_its_incident(
    channel: PagerDutyChannel, api: PagerDutyServer, message: AlertMessage
) -> None:
    receipt = channel.send(replace(message, event="test", severity="info"))

    [incident] = api.rest_incidents
    assert (incident.urgency, incident.status) == ("low", "resolved")
    assert receipt.detail == "test incident created and resolved"


def test_a_from_address_pagerduty_does_not_know_is_a_permanent_failure(
    api: PagerDutyServer, message: AlertMessage
) -> None:
    channel = PagerDutyChannel({**CONFIG, "from": "nobody@tickettoken.example"})

    error = send_error(channel, message)

    assert (error.permanent, error.status) == (True, 400)
    assert "Requester User Not Found" in error.message
    assert api.rest_incidents == []


@pytest.mark.parametrize(
    ("config", "status", "reason"),
    [
        ({**CONFIG, "api_key": "WrongKey-0123456789"}, 401, "Unauthorized"),
        ({**CONFIG, "service_id": "PNOPE00"}, 400, "Service not found."),
    ],
)
def test_a_wrong_key_or_service_is_a_permanent_failure_that_never_shows_the_key(
    api: PagerDutyServer, message: AlertMessage, config: dict[str, str], status: int, reason: str
) -> None:
    error = send_error(PagerDutyChannel(config), message)

    assert (error.permanent, error.status) == (True, status)
    assert reason in error.message
    assert config["api_key"] not in error.message


def test_a_500_is_transient_and_the_retry_opens_one_incident(
    channel: PagerDutyChannel, api: PagerDutyServer, message: AlertMessage
) -> None:
    api.fail(503)

    error = send_error(channel, message)
    channel.send(message)

    assert (error.permanent, error.status) == (False, 503)
    assert len(api.rest_incidents) == 1


def test_a_429_carries_retry_after(
    channel: PagerDutyChannel, api: PagerDutyServer, message: AlertMessage
) -> None:
    api.rate_limit(retry_after=7)

    error = send_error(channel, replace(message, event="resolved"))

    assert (error.permanent, error.status, error.retry_after) == (False, 429, 7.0)


def test_the_fake_answers_a_write_without_from_with_400_like_pagerduty(
    api: PagerDutyServer,
) -> None:
    response = requests.post(
        api.url + "/incidents",
        json={"incident": {"type": "incident", "title": "x", "service": {"id": SERVICE}}},
        headers={"Authorization": f"Token token={API_KEY}", "Accept": MEDIA_TYPE},
        timeout=5,
    )

    assert response.status_code == 400
    assert response.json()["error"]["message"] == (
        'You must specify a user\'s email address in the "From" header to perform this action'
    )
    assert api.rest_incidents == []


# --- configuration ---------------------------------------------------------------------------


def errors_of(config: dict[str, str]) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as caught:
        PagerDutyChannel.validate_config(config)
    return caught.value.message_dict


def test_an_api_key_a_service_and_a_user_make_a_rest_channel() -> None:
    config = PagerDutyChannel.validate_config(
        {"api_key": f" {API_KEY} ", "service_id": SERVICE, "from": f"{SENDER} "}
    )

    assert config == CONFIG


def test_a_partial_rest_configuration_names_what_is_missing() -> None:
    assert errors_of({"api_key": API_KEY}) == {
        "service_id": ["This field is required for the REST API v2 (or set routing_key)."],
        "from": ["This field is required for the REST API v2 (or set routing_key)."],
    }


def test_both_modes_at_once_are_refused() -> None:
    errors = errors_of({"routing_key": ROUTING_KEY, "api_key": API_KEY})

    assert errors == {
        "api_key": [
            "Use either routing_key (Events API v2) or api_key, service_id and from "
            "(REST API v2), not both."
        ]
    }


def test_an_empty_configuration_says_what_either_mode_needs() -> None:
    assert errors_of({}) == {
        "routing_key": [
            "Set routing_key (Events API v2), or api_key, service_id and from (REST API v2)."
        ]
    }


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        ("api_key", "short", "Expected a PagerDuty REST API key (16 to 128 characters)."),
        ("api_key", "has spaces in the key ok", "Expected a PagerDuty REST API key"),
        ("service_id", "pwixjzs", "Expected a PagerDuty service ID such as PWIXJZS."),
        ("from", "not-an-address", "Expected the e-mail address of a PagerDuty user."),
        ("source", "payments", "Only for Events API v2 (routing_key) channels."),
    ],
)
def test_a_malformed_rest_field_is_named(field: str, value: str, problem: str) -> None:
    errors = errors_of({**CONFIG, field: value})

    assert list(errors) == [field]
    assert errors[field][0].startswith(problem)
