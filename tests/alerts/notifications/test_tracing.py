"""A notification is traced: its span carries the alert id, the call to the channel is its child
(issue #14; the collector is an OTLP/HTTP server on 127.0.0.1)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from alerts.models import Alert, NotificationChannel
from monitoring_site import tracing
from monitoring_site.jobs import run_job
from tests.support.fake_otlp import OtlpCollector
from tests.support.fake_otlp import otlp_collector as otlp_collector
from tests.support.fake_otlp import traced as traced
from tests.support.fake_vendors import WebhookReceiver

pytestmark = pytest.mark.django_db


def test_a_notification_is_traced_with_its_alert_id_and_the_call_to_the_channel(
    traced: OtlpCollector,
    webhook: NotificationChannel,
    webhook_receiver: WebhookReceiver,
    fire: Callable[..., Alert],
) -> None:
    alert = fire(channels=["webhook"])
    run_job("alerts.notify.sweep")
    assert len(webhook_receiver.bodies) == 1
    assert tracing.force_flush()
    [job] = traced.named("job alerts.notify.sweep")
    assert job.attributes["job.name"] == "alerts.notify.sweep"
    [sent] = traced.named("notification")
    assert sent.parent_span_id == job.span_id
    note = alert.notifications.get()
    assert (sent.attributes["alert.id"], sent.attributes["notification.id"]) == (alert.pk, note.pk)
    assert sent.attributes["channel.kind"] == "webhook"
    assert ("notification attempt", {"notification.id": note.pk, "outcome": "delivered"}) in (
        sent.events
    )
    [call] = [s for s in traced.spans if s.parent_span_id == sent.span_id and s.name == "POST"]
    assert call.attributes["http.url"] == webhook_receiver.url + "/hook"
    assert call.attributes["http.status_code"] == 200
