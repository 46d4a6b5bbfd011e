"""One row of every model the admin shows, for the permission table (tests/test_permissions.py).

Keys are ``app_label.model_name`` (one per registered ModelAdmin) plus short names the API rows
use in their URLs (``alert``, ``rule``, ``service``, ...).
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib.auth.models import Group, User
from django.utils import timezone
from django_q.models import Failure, OrmQ, Schedule, Success, Task
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken

from alerts.intake.services import EXTERNAL_RULE
from alerts.intake.tokens import create_intake_token
from alerts.models import (
    Alert,
    AnomalyDetector,
    AnomalyScore,
    EscalationPolicy,
    EvaluationCycle,
    Notification,
    NotificationChannel,
    Rule,
)
from alerts.services import fire_alert, open_alert
from alerts.silences.services import create_maintenance_window, create_silence
from health.models import CheckResult, Service, StateChange, UptimeHour, hour_of
from metrics_app.models import MetricDefinition, RemoteWriteProgress, Series
from metrics_app.services import create_ingest_token
from monitoring_site.models import JobRun, SeedRecord
from reports.models import ReportDelivery
from reports.selectors import today
from reports.services import generate_report


def build_world() -> dict[str, Any]:
    now = timezone.now()
    world: dict[str, Any] = {}
    world.update(_auth())
    world.update(_jobs(now))
    world.update(_metrics(now))
    world.update(_health(now))
    world.update(_alerts(now, world["health.service"]))
    world.update(_reports(now))
    world["ack_token"] = "not-a-real-token"
    world["in_an_hour"] = (now + timedelta(hours=1)).isoformat()
    return world


def _auth() -> dict[str, Any]:
    target = User.objects.create_user("tom-target")
    refresh = RefreshToken.for_user(target)
    outstanding = OutstandingToken.objects.get(jti=refresh["jti"])
    spent = RefreshToken.for_user(target)
    spent.blacklist()
    attempt = AccessAttempt.objects.create(
        username="tom-target", ip_address="203.0.113.9", user_agent="", failures_since_start=10
    )
    failure = AccessFailureLog.objects.create(
        username="tom-target", ip_address="203.0.113.9", user_agent="", locked_out=True
    )
    log = AccessLog.objects.create(username="tom-target", ip_address="203.0.113.9", user_agent="")
    return {
        "axes.accessattempt": attempt,
        "axes.accessfailurelog": failure,
        "axes.accesslog": log,
        "auth.user": target,
        "auth.group": Group.objects.get(name="viewer"),
        "token_blacklist.outstandingtoken": outstanding,
        "token_blacklist.blacklistedtoken": BlacklistedToken.objects.get(token__jti=spent["jti"]),
    }


def _jobs(now: Any) -> dict[str, Any]:
    def task(success: bool) -> Task:
        return Task.objects.create(
            id=uuid.uuid4().hex,
            name=f"probe-{success}",
            func="math.floor",
            args=(1.5,),
            kwargs={},
            started=now,
            stopped=now,
            success=success,
        )

    run = JobRun.objects.create(
        job="cleanup", started_at=now, duration_ms=999.57, outcome="success"
    )
    return {
        "django_q.schedule": Schedule.objects.create(name="probe", func="math.floor", args="1.5"),
        "django_q.success": Success.objects.get(pk=task(True).pk),
        "django_q.failure": Failure.objects.get(pk=task(False).pk),
        "django_q.ormq": OrmQ.objects.create(key="probe", payload="-", lock=None),
        "monitoring_site.jobrun": run,
        "jobrun": run,
        "monitoring_site.seedrecord": SeedRecord.objects.create(key="probe"),
    }


def _metrics(now: Any) -> dict[str, Any]:
    series = Series.objects.create(
        name="active_users",
        family="active_users",
        labels={"service": "payment"},
        labels_key='service="payment"',
        kind="gauge",
        value=3,
        created_at=now,
        updated_at=now,
    )
    token, _raw = create_ingest_token(service="payment")
    return {
        "metrics_app.metricdefinition": MetricDefinition.objects.create(
            name="probe_total", type="counter", help="Probes."
        ),
        "metrics_app.ingesttoken": token,
        "metrics_app.series": series,
        "series": series,
        "metrics_app.remotewriteprogress": RemoteWriteProgress.objects.create(),
    }


def _health(now: Any) -> dict[str, Any]:
    service = Service.objects.create(slug="probe", name="Probe", target="http://127.0.0.1:9")
    return {
        "health.service": service,
        "service": service,
        "health.checkresult": CheckResult.objects.create(
            service=service, checked_at=now, outcome="down", error="refused"
        ),
        "health.statechange": StateChange.objects.create(
            service=service, from_state="unknown", to_state="down", at=now
        ),
        "health.uptimehour": UptimeHour.objects.create(
            service=service, hour=hour_of(now), checks=1, down=1
        ),
    }


def _alerts(now: Any, service: Service) -> dict[str, Any]:
    channel = NotificationChannel.objects.create(
        name="Ops email", kind="email", config={"to": ["ops@example.com"]}
    )
    rule = Rule.objects.create(
        name="Probe rule", expression="max(queue_size)", threshold=5, channels=["email"]
    )
    alert = open_alert(rule=rule, source=Alert.Source.RULE, labels={}, value=9.0, now=now)
    assert alert is not None
    fire_alert(alert=alert, now=now)
    silence = create_silence(
        matchers=[{"name": "service", "value": "order"}],
        starts_at=None,
        ends_at=now + timedelta(hours=1),
        comment="probe",
        user=None,
    )
    window = create_maintenance_window(
        name="Probe window",
        services=[service.slug],
        starts_at=None,
        ends_at=now + timedelta(hours=1),
        comment="probe",
        user=None,
    )
    return {
        "alerts.rule": rule,
        "rule": rule,
        "alerts.alert": alert,
        "alert": alert,
        "alerts.evaluationcycle": EvaluationCycle.objects.create(
            started_at=now, scheduled_for=now, duration_ms=12.5
        ),
        "alerts.notificationchannel": channel,
        "alerts.escalationpolicy": EscalationPolicy.objects.create(name="Probe policy"),
        "alerts.notification": Notification.objects.filter(alert=alert).first(),
        "alerts.silence": silence,
        "silence": silence,
        "alerts.maintenancewindow": window,
        "window": window,
        "alerts.intaketoken": create_intake_token(name="probe-prometheus")[0],
        "external_rule": Rule.objects.create(
            slug=EXTERNAL_RULE["slug"], name=EXTERNAL_RULE["name"], builtin=True
        ),
        **_anomalies(now),
    }


def _anomalies(now: Any) -> dict[str, Any]:
    detector = AnomalyDetector.objects.create(
        name="Probe detector", slug="probe-detector", expression="sum(queue_size)"
    )
    score = AnomalyScore.objects.create(
        detector=detector,
        at=now,
        observed=1.0,
        expected=1.0,
        lower=0.0,
        upper=2.0,
        score=0.0,
        anomalous=False,
    )
    return {
        "alerts.anomalydetector": detector,
        "detector": detector,
        "alerts.anomalyscore": score,
    }


def _reports(now: Any) -> dict[str, Any]:
    report = generate_report(day=today(now) - timedelta(days=1), now=now)
    delivery = ReportDelivery.objects.create(
        report=report, recipients=["ops@example.com"], created_at=now, due_at=now
    )
    return {
        "reports.report": report,
        "reports.reportdelivery": delivery,
        "report_day": report.day.isoformat(),
        "report_chart": "uptime",
    }
