"""A real Prometheus, its alerting rule and ``alerting.alertmanagers`` pointed at this service.

Prometheus (Debian's package, on 127.0.0.1) evaluates ``TicketsStalled`` every second over a
series this test writes into it by remote write, and sends its alerts to the service's
``/api/v2/alerts`` (a live server) with an intake token; the service notifies a recording
webhook when the alert fires and again when Prometheus resolves it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests
from django.db import OperationalError

from alerts.intake.tokens import create_intake_token
from alerts.models import Alert, NotificationChannel
from alerts.notifications.dispatch import dispatch_step
from metrics_app.remote_write import HEADERS, RemoteSample, encode_samples
from tests.support.fake_vendors import WebhookReceiver
from tests.support.tsdb import Prometheus

RULES = """
groups:
  - name: tickets
    interval: 1s
    rules:
      - alert: TicketsStalled
        expr: tt_switch == 1
        labels: {severity: critical, team: checkout}
        annotations: {summary: "Ticket sales stalled on {{ $labels.service }}"}
"""


def config(target: str, token: str) -> str:
    return f"""
global: {{evaluation_interval: 1s}}
rule_files: [rules.yml]
alerting:
  alertmanagers:
    - api_version: v2
      authorization: {{type: Bearer, credentials: "{token}"}}
      static_configs: [{{targets: ["{target}"]}}]
"""


def switch(prometheus: Prometheus, value: float) -> None:
    body = encode_samples(
        [RemoteSample("tt_switch", {"service": "ticket"}, value, int(time.time() * 1000))]
    )
    response = requests.post(prometheus.remote_write_url, data=body, headers=HEADERS, timeout=10)
    assert response.status_code < 300, response.text


def wait_until(condition: Callable[[], Any], *, timeout: float = 45.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = condition()
        except OperationalError:  # SQLite: the live server's thread holds the table a moment
            value = None
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError(f"not within {timeout} s")


def deliver_all() -> None:
    while dispatch_step() is not None:
        pass


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_prometheus_raises_an_alert_that_is_notified_and_resolved(
    tmp_path: Path,
    live_server: Any,
    external_rule: Any,
    hook: NotificationChannel,
    webhook_receiver: WebhookReceiver,
) -> None:
    _token, raw = create_intake_token(name="prometheus-e2e")
    target = live_server.url.removeprefix("http://")
    with Prometheus(
        tmp_path,
        config=config(target, raw),
        files={"rules.yml": RULES},
        args=("--rules.alert.resend-delay=1s",),
    ) as prometheus:
        switch(prometheus, 1)
        alert = wait_until(lambda: Alert.objects.filter(source="external", state="firing").first())
        deliver_all()
        switch(prometheus, 0)
        wait_until(lambda: Alert.objects.filter(pk=alert.pk, state="resolved").exists())
        deliver_all()

    alert.refresh_from_db()
    assert alert.rule_name == "TicketsStalled" and alert.severity == "critical"
    assert alert.labels == {
        "alertname": "TicketsStalled",
        "service": "ticket",
        "severity": "critical",
        "team": "checkout",
    }
    assert alert.summary == "Ticket sales stalled on ticket"
    assert "/graph?g0.expr=tt_switch" in alert.details["generator_url"]
    sent = [(body["status"], body["alerts"][0]["labels"]) for body in webhook_receiver.bodies]
    assert sent == [("firing", alert.labels), ("resolved", alert.labels)]
    assert Alert.objects.filter(source="external").count() == 1  # repeats kept one alert
