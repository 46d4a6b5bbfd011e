"""POST /api/v2/alerts: who may post, what is refused, and what each alert does to the lifecycle."""

from __future__ import annotations

import base64
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from alerts.intake.services import expire_external_alerts
from alerts.intake.tokens import hash_token, revoke_intake_token
from alerts.models import Alert, AlertEvent, IntakeToken, Notification, NotificationChannel, Rule
from alerts.notifications.dispatch import dispatch_step
from alerts.silences.services import create_silence
from tests.alerts.conftest import T0
from tests.alerts.intake.conftest import Post
from tests.support.fake_vendors import WebhookReceiver

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clock")]

LABELS = {"alertname": "HighErrorRate", "service": "payment", "severity": "critical"}


def firing(labels: dict[str, str] | None = None, **fields: Any) -> dict[str, Any]:
    return {
        "labels": labels or LABELS,
        "annotations": {"summary": "Payment errors above 5 %", "description": "5.2 % of 1000"},
        "startsAt": (T0 - timedelta(minutes=2)).isoformat(),
        "endsAt": (T0 + timedelta(minutes=4)).isoformat(),
        "generatorURL": "http://prometheus:9090/graph?g0.expr=errors",
        **fields,
    }


def resolved(labels: dict[str, str] | None = None) -> dict[str, Any]:
    return firing(labels, endsAt=(T0 - timedelta(seconds=5)).isoformat())


def open_external() -> list[Alert]:
    return list(Alert.objects.filter(source="external", state__in=Alert.OPEN_STATES))


def deliver_all() -> list[str]:
    """Run the dispatcher until the outbox is empty; the kinds of what was delivered."""
    kinds = []
    while (result := dispatch_step()) is not None:
        kinds.append(Notification.objects.get(pk=result.notification_id).kind)
    return kinds


# --- authentication ------------------------------------------------------------------------------


def test_no_credentials_are_refused_with_401(post: Post) -> None:
    response = post([firing()], client=APIClient())
    assert response.status_code == 401
    assert Alert.objects.count() == 0


def test_a_wrong_intake_token_is_refused_with_401(post: Post) -> None:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer itk_0000_nothing")
    response = post([firing()], client=client)
    assert response.status_code == 401
    assert "Intake token" in response.json()["message"]


def test_a_revoked_token_is_refused_with_401(
    post: Post, intake_token: tuple[IntakeToken, str]
) -> None:
    assert revoke_intake_token(token=intake_token[0]) is True
    assert post([firing()]).status_code == 401
    assert Alert.objects.count() == 0


def test_the_token_works_as_the_password_of_basic_auth(
    post: Post, intake_token: tuple[IntakeToken, str]
) -> None:
    client = APIClient()
    basic = base64.b64encode(f"prometheus:{intake_token[1]}".encode()).decode()
    client.credentials(HTTP_AUTHORIZATION=f"Basic {basic}")
    assert post([firing()], client=client).status_code == 200
    assert len(open_external()) == 1


def test_the_token_is_stored_only_as_its_hash_and_its_use_is_recorded(
    post: Post, intake_token: tuple[IntakeToken, str]
) -> None:
    token, raw = intake_token
    post([firing()])
    token.refresh_from_db()
    assert token.key_hash == hash_token(raw) and raw not in token.key_hash
    assert raw.startswith(token.prefix + "_")
    assert token.last_used_at == T0


def test_an_ingest_token_or_a_viewer_cannot_post_alerts(
    post: Post, viewer_client: APIClient
) -> None:
    assert post([firing()], client=viewer_client).status_code == 403


def test_the_command_prints_a_new_token_once() -> None:
    out, err = StringIO(), StringIO()
    call_command("create_intake_token", "vmalert", stdout=out, stderr=err)
    raw = out.getvalue().strip()
    token = IntakeToken.objects.get(name="vmalert")
    assert token.key_hash == hash_token(raw)
    assert raw not in err.getvalue() and token.prefix in err.getvalue()


# --- bad input -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "where", "problem"),
    [
        ({"labels": {}}, None, "body"),
        ([{"annotations": {"summary": "x"}}], "0", "labels: required"),
        ([{"labels": {"alert-name": "x"}}], "0", "labels.alert-name: not a label name"),
        ([{"labels": {"alertname": 3}}], "0", "labels.alertname: expected text"),
        ([{"labels": {"alertname": "x\x00"}}], "0", "labels.alertname: must not contain a NUL"),
        ([{"labels": {"a": "b"}, "annotations": []}], "0", "annotations: expected an object"),
        ([{"labels": {"a": "b"}, "startsAt": "yesterday"}], "0", "startsAt: Expected RFC 3339"),
        ([{"labels": {"a": "b"}, "endsAt": 5}], "0", "endsAt: expected RFC 3339 text"),
        (
            [{"labels": {"a": "b"}, "startsAt": T0.isoformat(), "endsAt": "2020-01-01T00:00:00Z"}],
            "0",
            "endsAt: before startsAt",
        ),
        ([{"labels": {"a": "b"}, "generatorURL": "javascript:x"}], "0", "generatorURL"),
        ([firing(), "alert"], "1", "expected an object"),
    ],
)
def test_a_bad_alert_refuses_the_request_naming_the_field(
    post: Post, body: Any, where: str | None, problem: str
) -> None:
    response = post(body)

    assert response.status_code == 400
    details = response.json()["details"]["alerts"]
    if where is None:
        assert details == ["Expected a JSON array of alerts."]
    else:
        assert problem in details[where]
    assert Alert.objects.count() == 0  # nothing stored, not even the good alerts beside it


def test_too_many_alerts_in_one_request_are_refused_with_413(post: Post, settings: Any) -> None:
    settings.ALERT_INTAKE_MAX_ALERTS = 2
    response = post([firing({"alertname": f"A{i}"}) for i in range(3)])
    assert response.status_code == 413
    assert Alert.objects.count() == 0


def test_without_the_external_rule_the_intake_answers_503(post: Post, external_rule: Rule) -> None:
    external_rule.delete()
    response = post([firing()])
    assert response.status_code == 503
    assert "bootstrap" in response.json()["message"]


# --- the lifecycle -------------------------------------------------------------------------------


def test_a_firing_alert_opens_an_external_alert_and_notifies_the_rules_channels(
    post: Post, hook: NotificationChannel, webhook_receiver: WebhookReceiver
) -> None:
    response = post([firing()])

    assert response.status_code == 200
    assert response.json()["opened"] == 1
    (alert,) = open_external()
    assert (alert.state, alert.rule_name, alert.severity) == ("firing", "HighErrorRate", "critical")
    assert alert.labels == LABELS
    assert alert.summary == "Payment errors above 5 %"
    assert alert.started_at == T0 - timedelta(minutes=2) and alert.fired_at == T0
    assert alert.ends_at == T0 + timedelta(minutes=4)
    assert alert.details["generator_url"] == "http://prometheus:9090/graph?g0.expr=errors"
    event = alert.events.get(kind=AlertEvent.Kind.FIRING)
    assert event.actor == "intake:prometheus-prod"
    assert deliver_all() == ["firing"]
    (body,) = webhook_receiver.bodies
    (sent,) = body["alerts"]  # the webhook speaks Alertmanager's format
    assert (sent["status"], sent["labels"]) == ("firing", LABELS)
    assert sent["annotations"]["summary"] == "Payment errors above 5 %"


def test_the_same_labels_again_keep_one_alert_and_move_its_end(
    post: Post, hook: NotificationChannel, clock: Any
) -> None:
    post([firing()])
    clock.shift(60)
    response = post([firing(endsAt=(T0 + timedelta(minutes=5)).isoformat())])

    assert response.json()["refreshed"] == 1
    (alert,) = open_external()
    assert alert.ends_at == T0 + timedelta(minutes=5)
    assert deliver_all() == ["firing"]  # one message, not one per repeat


def test_labels_in_another_order_are_the_same_alert(post: Post) -> None:
    post([firing(dict(reversed(list(LABELS.items()))))])
    post([firing()])
    assert len(open_external()) == 1


def test_an_alert_with_other_labels_is_another_alert(post: Post) -> None:
    post([firing(), firing({**LABELS, "service": "order"})])
    assert sorted(a.labels["service"] for a in open_external()) == ["order", "payment"]


def test_ends_at_in_the_past_resolves_the_alert_and_sends_the_resolution(
    post: Post, hook: NotificationChannel, clock: Any
) -> None:
    post([firing()])
    deliver_all()
    clock.shift(30)

    response = post([resolved()])

    assert response.json()["resolved"] == 1
    alert = Alert.objects.get(source="external")
    assert alert.state == "resolved" and alert.resolved_at == T0 + timedelta(seconds=30)
    assert alert.events.get(kind="resolved").details["reason"] == "resolved by the sender (endsAt)"
    assert deliver_all() == ["resolved"]


def test_a_resolution_for_an_alert_never_seen_is_counted_not_stored(post: Post) -> None:
    response = post([resolved()])
    assert response.json()["resolved_not_open"] == 1
    assert Alert.objects.count() == 0


def test_an_alert_not_repeated_before_its_end_is_resolved_by_the_expiry_job(
    post: Post, clock: Any
) -> None:
    post([firing()])
    clock.shift(3 * 60)
    assert expire_external_alerts() == 0
    clock.shift(61)

    assert expire_external_alerts() == 1

    alert = Alert.objects.get(source="external")
    assert alert.state == "resolved"
    assert "not repeated" in alert.events.get(kind="resolved").details["reason"]


def test_an_alert_without_ends_at_ends_after_the_resolve_timeout(post: Post, settings: Any) -> None:
    settings.ALERT_INTAKE_RESOLVE_TIMEOUT = timedelta(minutes=5)
    alert = firing()
    del alert["endsAt"]
    post([alert])
    assert open_external()[0].ends_at == T0 + timedelta(minutes=5)


def test_go_zero_times_count_as_absent(post: Post) -> None:
    post([firing(startsAt="0001-01-01T00:00:00Z", endsAt="0001-01-01T00:00:00Z")])
    (alert,) = open_external()
    assert alert.started_at == T0 and alert.state == "firing"


def test_a_silence_matching_the_labels_holds_the_notification(
    post: Post, hook: NotificationChannel
) -> None:
    silence = create_silence(
        matchers=[{"name": "alertname", "value": "HighErrorRate"}],
        starts_at=None,
        ends_at=T0 + timedelta(hours=1),
        comment="known incident",
        user=None,
    )

    post([firing()])

    (alert,) = open_external()
    assert alert.state == "firing"
    assert deliver_all() == []
    details = alert.events.get(kind="firing").details
    assert details == {"notify": False, "suppressed": f"silence:{silence.pk}"}


def test_the_severity_label_chooses_among_ours_else_the_rule_default(
    post: Post, external_rule: Rule
) -> None:
    post([firing({"alertname": "A", "severity": "page"}), firing({"alertname": "B"})])
    assert {a.rule_name: a.severity for a in open_external()} == {
        "A": external_rule.severity,
        "B": external_rule.severity,
    }


def test_a_disabled_external_rule_opens_nothing_but_still_resolves(
    post: Post, external_rule: Rule
) -> None:
    post([firing()])
    Rule.objects.filter(pk=external_rule.pk).update(enabled=False)

    response = post([firing({"alertname": "Other"}), resolved()])

    assert response.json()["ignored_rule_disabled"] == 1
    assert response.json()["resolved"] == 1
    assert open_external() == []


def test_an_acknowledged_external_alert_stays_acknowledged_when_repeated(
    post: Post, operator_client: APIClient
) -> None:
    post([firing()])
    (alert,) = open_external()
    assert (
        operator_client.post(f"/api/v1/monitoring/alerts/{alert.pk}/acknowledge").status_code == 200
    )

    post([firing()])

    alert.refresh_from_db()
    assert alert.state == "acknowledged"
