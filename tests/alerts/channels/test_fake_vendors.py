"""The fake vendors behave like the real ones where the channel and outbox tests rely on it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import requests
import time_machine

from tests.support.fake_vendors import PagerDutyServer, SlackServer, WebhookReceiver

from .conftest import ROUTING_KEY


def trigger(server: PagerDutyServer, key: str, **payload: str) -> requests.Response:
    event = {
        "routing_key": ROUTING_KEY,
        "event_action": "trigger",
        "dedup_key": key,
        "payload": {"summary": "disk full", "source": "db-1", "severity": "error", **payload},
    }
    return requests.post(server.events_url, json=event, timeout=5)


def test_pagerduty_answers_202_with_the_dedup_key_and_generates_one_when_absent() -> None:
    with PagerDutyServer() as server:
        given = trigger(server, "k-1")
        generated = requests.post(
            server.events_url,
            json={
                "routing_key": ROUTING_KEY,
                "event_action": "trigger",
                "payload": {"summary": "s", "source": "x", "severity": "info"},
            },
            timeout=5,
        )

    assert (given.status_code, given.json()["dedup_key"]) == (202, "k-1")
    assert generated.status_code == 202
    assert len(generated.json()["dedup_key"]) == 32


def test_pagerduty_opens_a_new_incident_for_a_trigger_after_a_resolve() -> None:
    with PagerDutyServer() as server:
        trigger(server, "k-1")
        trigger(server, "k-1")
        requests.post(
            server.events_url,
            json={"routing_key": ROUTING_KEY, "event_action": "resolve", "dedup_key": "k-1"},
            timeout=5,
        )
        trigger(server, "k-1")

    assert [(i.dedup_key, i.status, len(i.events)) for i in server.incidents] == [
        ("k-1", "resolved", 3),
        ("k-1", "triggered", 1),
    ]


def test_pagerduty_refuses_an_invalid_event_with_400_and_the_reason() -> None:
    with PagerDutyServer() as server:
        response = trigger(server, "k-1", severity="disaster")

    assert response.status_code == 400
    assert response.json() == {
        "status": "invalid event",
        "message": "Event object is invalid",
        "errors": ["'payload.severity' must be critical, error, warning or info"],
    }
    assert server.incidents == []


def test_pagerduty_rest_api_answers_for_known_services_with_the_api_key() -> None:
    with PagerDutyServer(api_key="pd-api-key", services={"PSVC123"}) as server:
        known = requests.get(
            server.url + "/services/PSVC123",
            headers={"Authorization": "Token token=pd-api-key"},
            timeout=5,
        )
        unknown = requests.get(
            server.url + "/services/PNOPE",
            headers={"Authorization": "Token token=pd-api-key"},
            timeout=5,
        )
        unauthorised = requests.get(server.url + "/services/PSVC123", timeout=5)

    assert (known.status_code, known.json()["service"]["id"]) == (200, "PSVC123")
    assert (unknown.status_code, unauthorised.status_code) == (404, 401)


def test_faults_apply_in_order_then_normal_answers_resume() -> None:
    with WebhookReceiver() as server:
        server.fail(500, times=2)
        server.rate_limit(retry_after=3)
        statuses = [requests.post(server.url, json={}, timeout=5).status_code for _ in range(4)]

    assert statuses == [500, 500, 429, 200]
    assert [r.status for r in server.requests] == [500, 500, 429, 200]


def test_a_fault_until_a_time_follows_the_travelled_clock() -> None:
    start = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    with WebhookReceiver() as server, time_machine.travel(start, tick=False) as clock:
        server.fail(500, until=start + timedelta(minutes=10))
        during = requests.post(server.url, json={}, timeout=5).status_code
        clock.shift(timedelta(minutes=10))
        after = requests.post(server.url, json={}, timeout=5).status_code

    assert (during, after) == (500, 200)
    assert [r.at for r in server.requests] == [start, start + timedelta(minutes=10)]


def test_a_stopped_server_also_drops_keep_alive_connections() -> None:
    session = requests.Session()
    server = WebhookReceiver().start()
    first = session.post(server.url, json={}, timeout=5).status_code
    server.stop()

    try:
        session.post(server.url, json={}, timeout=5)
        second: int | str = "answered"
    except requests.ConnectionError:
        second = "connection error"

    assert (first, second) == (200, "connection error")
    assert len(server.requests) == 1


def test_slack_accepts_form_encoded_chat_post_message() -> None:
    with SlackServer() as server:
        response = requests.post(
            server.api_url + "chat.postMessage",
            data={"channel": "alerts", "text": "hello"},
            headers={"Authorization": f"Bearer {server.token}"},
            timeout=5,
        )

    assert response.json()["ok"] is True
    assert server.messages == [{"channel": "alerts", "text": "hello"}]
