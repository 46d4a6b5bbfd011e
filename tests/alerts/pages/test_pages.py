"""The alert pages (issue #21): who sees what, the actions and their refusals, the chart."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from alerts.engine.lifecycle import apply_evaluation
from alerts.models import Alert, AlertEvent, Rule, Silence
from alerts.pages.chart import chart_data
from alerts.services import acknowledge_alert, resolve_alert
from tests.alerts.conftest import scalar, vector
from tests.alerts.metric_rows import Store, minutes_between

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _frozen(clock: Any) -> Any:
    return clock


@pytest.fixture
def firing(make_rule: Callable[..., Rule], a_channel: Any) -> Alert:
    rule = make_rule(name="Queue Backup", slug="queue-backup", for_seconds=0, severity="error")
    apply_evaluation(rule=rule, result=vector(({"service": "payment"}, 500)), now=timezone.now())
    return Alert.objects.get(rule=rule)


@pytest.fixture
def resolved(make_rule: Callable[..., Rule], clock: Any) -> Alert:
    rule = make_rule(name="Gone", slug="gone", for_seconds=0, severity="critical")
    apply_evaluation(rule=rule, result=scalar(500), now=timezone.now())
    clock.shift(60)
    apply_evaluation(rule=rule, result=scalar(5), now=timezone.now())
    return Alert.objects.get(rule=rule)


def signed_in(user: Any, **kwargs: Any) -> Client:
    client = Client(**kwargs)
    client.force_login(user)
    return client


def test_the_pages_send_anonymous_visitors_to_the_dashboard_login(firing: Alert) -> None:
    for url in ("/alerts/", f"/alerts/{firing.pk}/", "/rules/", f"/alerts/{firing.pk}/silence/"):
        response = Client().get(url)
        assert (response.status_code, response["Location"]) == (302, f"/dashboard/login?next={url}")


def test_a_viewer_sees_the_active_alert_and_no_button(viewer: Any, firing: Alert) -> None:
    page = signed_in(viewer).get("/alerts/").content.decode()
    assert f'<tr data-alert="{firing.pk}" data-state="firing">' in page
    assert "Queue Backup" in page and "payment" in page
    assert "Acknowledge</button>" not in page and "Resolve</button>" not in page
    detail = signed_in(viewer).get(f"/alerts/{firing.pk}/").content.decode()
    assert "Acknowledge</button>" not in detail and "Silence…" not in detail
    assert signed_in(viewer).get(f"/alerts/{firing.pk}/silence/").status_code == 403


def test_an_operator_sees_acknowledge_and_resolve_buttons(operator: Any, firing: Alert) -> None:
    page = signed_in(operator).get("/alerts/").content.decode()
    assert f'action="/alerts/{firing.pk}/acknowledge/"' in page
    assert f'action="/alerts/{firing.pk}/resolve/"' in page
    assert 'name="csrfmiddlewaretoken"' in page


def test_the_list_filters_by_severity_state_source_and_service(
    viewer: Any, firing: Alert, resolved: Alert
) -> None:
    client = signed_in(viewer)

    def shown(query: str) -> list[int]:
        page = client.get("/alerts/" + query)
        assert page.status_code == 200
        return sorted(row["alert"].pk for row in page.context["active"] + page.context["recent"])

    assert shown("") == sorted([firing.pk, resolved.pk])
    assert shown("?severity=critical") == [resolved.pk]
    assert shown("?state=firing") == [firing.pk]
    assert shown("?state=resolved") == [resolved.pk]
    assert shown("?source=health") == []
    assert shown("?service=payment") == [firing.pk]
    assert shown("?rule=gone") == [resolved.pk]


def test_a_bad_filter_answers_400_naming_it(viewer: Any, firing: Alert) -> None:
    page = signed_in(viewer).get("/alerts/?severity=loud&service=%3Cscript%3E")
    assert page.status_code == 400
    text = page.content.decode()
    assert "severity: Select a valid choice. loud is not one of the available choices." in text
    assert "service: Expected a service slug" in text
    assert "<script>" not in text


def test_an_operator_acknowledges_with_the_button_and_goes_back(
    operator: Any, firing: Alert
) -> None:
    client = signed_in(operator)
    response = client.post(f"/alerts/{firing.pk}/acknowledge/", {"next": "/alerts/?state=firing"})
    assert (response.status_code, response["Location"]) == (302, "/alerts/?state=firing")
    firing.refresh_from_db()
    assert (firing.state, firing.acknowledged_by_name) == ("acknowledged", "otto-operator")
    event = firing.events.get(kind=AlertEvent.Kind.ACKNOWLEDGED)
    assert (event.actor, event.user_id) == ("otto-operator", operator.pk)
    page = client.get("/alerts/").content.decode()
    assert f"Alert #{firing.pk} acknowledged." in page


def test_next_never_leaves_the_site(operator: Any, firing: Alert) -> None:
    response = signed_in(operator).post(
        f"/alerts/{firing.pk}/resolve/", {"next": "https://evil.example/"}
    )
    assert response["Location"] == f"/alerts/{firing.pk}/"


def test_acknowledging_from_a_stale_page_says_why_and_changes_nothing(
    operator: Any, resolved: Alert
) -> None:
    before = list(resolved.events.values_list("pk", "kind"))
    client = signed_in(operator)
    response = client.post(f"/alerts/{resolved.pk}/acknowledge/", follow=True)
    text = response.content.decode()
    assert response.redirect_chain == [(f"/alerts/{resolved.pk}/", 302)]
    assert (
        f"Alert #{resolved.pk} was not acknowledged: Only a firing alert can be acknowledged; "
        "this one is resolved. Nothing was changed" in text
    )
    response = client.post(f"/alerts/{resolved.pk}/resolve/", follow=True)
    assert f"Alert #{resolved.pk} was not resolved: This alert is already resolved." in (
        response.content.decode()
    )
    resolved.refresh_from_db()
    assert resolved.state == "resolved" and resolved.acknowledged_at is None
    assert list(resolved.events.values_list("pk", "kind")) == before


def test_acknowledging_twice_from_two_stale_tabs_records_one_acknowledgement(
    operator: Any, admin: Any, firing: Alert
) -> None:
    signed_in(admin).post(f"/alerts/{firing.pk}/acknowledge/")
    response = signed_in(operator).post(f"/alerts/{firing.pk}/acknowledge/", follow=True)
    assert "this one is acknowledged. Nothing was changed" in response.content.decode()
    firing.refresh_from_db()
    assert firing.acknowledged_by_name == "ada-admin"
    assert firing.events.filter(kind=AlertEvent.Kind.ACKNOWLEDGED).count() == 1


def test_a_viewer_may_not_act_and_nothing_changes(viewer: Any, firing: Alert) -> None:
    client = signed_in(viewer)
    for action in ("acknowledge", "resolve", "silence"):
        response = client.post(f"/alerts/{firing.pk}/{action}/", {"labels": ["alertname"]})
        assert (response.status_code, response.content) == (
            403,
            b"This needs the operator role.",
        )
    firing.refresh_from_db()
    assert firing.state == "firing" and not Silence.objects.exists()


def test_a_forged_post_without_a_csrf_token_is_refused(operator: Any, firing: Alert) -> None:
    client = signed_in(operator, enforce_csrf_checks=True)
    silence = {"labels": ["service"], "hours": 2, "comment": "forged"}
    for action in ("acknowledge", "resolve", "silence"):
        response = client.post(f"/alerts/{firing.pk}/{action}/", silence)
        assert response.status_code == 403
        assert b"CSRF" in response.content
    firing.refresh_from_db()
    assert firing.state == "firing" and not Silence.objects.exists()
    # The same client with the token the page gave it is let through: the refusal was CSRF.
    page = client.get(f"/alerts/{firing.pk}/")
    token = page.context["csrf_token"]
    response = client.post(f"/alerts/{firing.pk}/acknowledge/", {"csrfmiddlewaretoken": token})
    assert response.status_code == 302
    firing.refresh_from_db()
    assert firing.state == "acknowledged"


def test_actions_take_post_only(operator: Any, firing: Alert) -> None:
    assert signed_in(operator).get(f"/alerts/{firing.pk}/acknowledge/").status_code == 405
    firing.refresh_from_db()
    assert firing.state == "firing"


def test_an_unknown_alert_is_404(operator: Any) -> None:
    client = signed_in(operator)
    assert client.get("/alerts/999999/").status_code == 404
    assert client.post("/alerts/999999/acknowledge/").status_code == 404


def test_the_alert_page_shows_its_timeline_fired_notified_acknowledged_resolved(
    operator: Any, firing: Alert, clock: Any
) -> None:
    clock.shift(30)
    acknowledge_alert(alert=firing, user=operator)
    clock.shift(30)
    resolve_alert(alert=firing, user=operator)
    page = signed_in(operator).get(f"/alerts/{firing.pk}/")
    kinds = [(m.kind, m.actor) for m in page.context["timeline"]]
    assert kinds == [
        ("pending", "engine"),
        ("fired", "engine"),
        ("notified", ""),
        ("acknowledged", "otto-operator"),
        ("notified", ""),
        ("resolved", "otto-operator"),
        ("notified", ""),
    ]
    texts = [m.text for m in page.context["timeline"]]
    assert texts[1] == "Fired at value 500"
    assert texts[2] == "Notified Ops Slack (slack): firing message"
    assert texts[4] == "Notified Ops Slack (slack): acknowledged message"
    assert texts[5] == "Resolved (manual)"
    html = page.content.decode()
    assert 'data-kind="acknowledged"' in html and "by otto-operator" in html


def test_an_operator_silences_an_alert_in_two_clicks(operator: Any, firing: Alert) -> None:
    client = signed_in(operator)
    detail = client.get(f"/alerts/{firing.pk}/").content.decode()
    assert f'href="/alerts/{firing.pk}/silence/"' in detail  # click one
    form = client.get(f"/alerts/{firing.pk}/silence/").context["form"]
    data = {name: form[name].value() for name in ("labels", "hours", "comment")}
    assert data == {
        "labels": ["alertname", "service"],
        "hours": 2,
        "comment": f"Silenced from alert #{firing.pk} by otto-operator.",
    }
    response = client.post(f"/alerts/{firing.pk}/silence/", data, follow=True)  # click two
    silence = Silence.objects.get()
    assert silence.matchers == [
        {"name": "alertname", "op": "=", "value": "Queue Backup"},
        {"name": "service", "op": "=", "value": "payment"},
    ]
    assert silence.ends_at - silence.starts_at == timedelta(hours=2)
    assert silence.created_by == operator
    text = response.content.decode()
    assert f"Silence #{silence.pk} created until" in text
    assert f"Silenced by silence #{silence.pk}" in text


def test_a_bad_silence_form_answers_400_naming_the_field(operator: Any, firing: Alert) -> None:
    client = signed_in(operator)
    url = f"/alerts/{firing.pk}/silence/"
    cases = {
        "labels": {"hours": 2, "comment": "x"},
        "hours": {"labels": ["service"], "hours": 9999, "comment": "x"},
        "comment": {"labels": ["service"], "hours": 2, "comment": ""},
    }
    for field, data in cases.items():
        response = client.post(url, data)
        assert response.status_code == 400, field
        assert f"{field}: " in response.content.decode()
    # A label the alert does not carry cannot be smuggled in.
    response = client.post(url, {"labels": ["team"], "hours": 2, "comment": "x"})
    assert response.status_code == 400
    assert "labels: Select a valid choice. team is not one of the available choices." in (
        response.content.decode()
    )
    assert not Silence.objects.exists()


def test_the_rules_page_shows_value_against_threshold_and_last_state(
    viewer: Any, firing: Alert, make_rule: Callable[..., Rule]
) -> None:
    Rule.objects.filter(alerts=firing).update(last_value=500.0, last_evaluated_at=timezone.now())
    quiet = make_rule(name="Quiet", slug="quiet", threshold=10)
    Rule.objects.filter(pk=quiet.pk).update(last_value=2.5, last_evaluated_at=timezone.now())
    page = signed_in(viewer).get("/rules/")
    rows = {row["rule"].slug: row for row in page.context["rules"]}
    assert (rows["queue-backup"]["value"], rows["queue-backup"]["threshold"]) == ("500", "> 100")
    assert rows["queue-backup"]["crossing"] is True
    assert rows["queue-backup"]["last_state"] == "firing"
    assert (rows["quiet"]["value"], rows["quiet"]["crossing"], rows["quiet"]["last_state"]) == (
        "2.5",
        False,
        None,
    )
    html = page.content.decode()
    assert f'href="/alerts/{firing.pk}/" class="state state-firing">firing</a>' in html
    assert "never fired" in html


def test_every_page_links_the_others(viewer: Any, operator: Any, firing: Alert) -> None:
    links = (
        'href="/"',
        'href="/alerts/"',
        'href="/rules/"',
        'href="/reports/"',
        'href="/api/docs"',
    )
    for url in ("/alerts/", f"/alerts/{firing.pk}/", "/rules/", "/", "/reports/"):
        page = signed_in(viewer).get(url).content.decode()
        assert all(link in page for link in links), url
        assert 'href="/admin/"' not in page  # viewers do not enter the admin
        assert 'href="/admin/"' in signed_in(operator).get(url).content.decode()


def test_the_chart_replays_the_alert_series_around_the_firing(
    viewer: Any, make_rule: Callable[..., Rule], a_channel: Any
) -> None:
    now = timezone.now()
    store = Store()
    store.gauge(
        "queue_size",
        {"service": "payment"},
        minutes_between(now - timedelta(minutes=40), now - timedelta(minutes=11)),
        20,
    )
    store.gauge(
        "queue_size", {"service": "payment"}, minutes_between(now - timedelta(minutes=10), now), 500
    )
    store.gauge(
        "queue_size", {"service": "order"}, minutes_between(now - timedelta(minutes=40), now), 7
    )
    store.save()
    rule = make_rule(
        name="Queue", slug="queue", expression="max by (service) (queue_size)", for_seconds=0
    )
    apply_evaluation(rule=rule, result=vector(({"service": "payment"}, 500)), now=now)
    alert = Alert.objects.get(rule=rule)
    data = chart_data(alert, now=now)
    assert (data.start, data.end) == (now - timedelta(minutes=30), now)
    values = [value for _, value in data.points]
    assert set(values) == {20.0, 500.0}
    assert values[0] == 20.0 and values[-1] == 500.0
    response = signed_in(viewer).get(f"/alerts/{alert.pk}/chart.png")
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    assert response.content.startswith(b"\x89PNG")


def test_a_health_alert_charts_the_service_checks_with_failures_marked(
    viewer: Any, clock: Any
) -> None:
    from alerts.bootstrap import seed
    from health.models import CheckResult, Service
    from health.probes.base import ProbeResult
    from health.services import record_round

    seed(lambda line: None)
    payment = Service.objects.create(
        slug="payment",
        name="Payment",
        target="http://payment:3000",
        critical=True,
        failure_threshold=1,
        success_threshold=1,
        state="up",
    )
    now = timezone.now()
    CheckResult.objects.create(
        service=payment, checked_at=now - timedelta(minutes=2), outcome="up", latency_ms=12.0
    )
    record_round(results={payment.pk: ProbeResult.down("refused")}, checked_at=now)
    from alerts.health_alerts import handle_round
    from health.hooks import CompletedRound
    from health.models import StateChange

    handle_round(CompletedRound(checked_at=now, changes=list(StateChange.objects.all())))
    alert = Alert.objects.get(source="health")
    data = chart_data(alert, now=now)
    assert data.points == [(now - timedelta(minutes=2), 12.0)]
    assert data.failures == [now]
    assert data.label == "payment: check latency (ms)"
    response = signed_in(viewer).get(f"/alerts/{alert.pk}/chart.png")
    assert response.content.startswith(b"\x89PNG")


def test_the_dashboard_feed_carries_the_firing_and_acknowledged_alerts_with_their_pages(
    viewer: Any, operator: Any, firing: Alert, resolved: Alert, make_rule: Callable[..., Rule]
) -> None:
    pending_rule = make_rule(name="Slow", slug="slow", for_seconds=600)
    apply_evaluation(rule=pending_rule, result=scalar(500), now=timezone.now())
    acknowledge_alert(alert=firing, user=operator)
    alerts = signed_in(viewer).get("/dashboard/data").json()["alerts"]
    assert alerts == [
        {
            "id": firing.pk,
            "rule": "Queue Backup",
            "severity": "error",
            "state": "acknowledged",
            "since": firing.started_at.isoformat().replace("+00:00", "Z"),
            "labels": {"service": "payment"},
            "service": "payment",
            "summary": "queue at 500 (over 100)",
            "acknowledged_by": "otto-operator",
            "url": f"/alerts/{firing.pk}/",
        }
    ]  # neither the pending nor the resolved one


def test_the_wall_screen_is_the_dashboard_without_chrome(viewer: Any) -> None:
    client = signed_in(viewer)
    wall = client.get("/?wall=1").content.decode()
    assert '<body class="wall">' in wall and 'data-wall="true"' in wall
    assert "site-nav" not in wall and "Sign out" not in wall
    ordinary = client.get("/").content.decode()
    assert 'data-wall="false"' in ordinary and "site-nav" in ordinary
    assert 'id="wall-link" href="?wall=1"' in ordinary
    response = client.get("/?wall=yes")
    assert (response.status_code, response.content) == (
        400,
        b"wall: expected 1 (wall-screen mode) or 0.",
    )
