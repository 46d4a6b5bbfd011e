"""Two worker clusters on one PostgreSQL: each cycle evaluated once, each alert notified once.

Issue #20, item 4. Two hosts, each with a real ``manage.py qcluster`` (two workers, one broker
queue for both) and ``manage.py run_evaluator``, on the test's PostgreSQL database, evaluate
and dispatch while a rule fires for 200 label sets at once. A recording webhook server on
127.0.0.1 counts what it receives: every alert exactly once, delivered by both clusters.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.db.models import Count
from django.utils import timezone
from django_q.models import Schedule

from alerts.models import (
    Alert,
    AlertEvent,
    EvaluationCycle,
    Notification,
    NotificationAttempt,
    NotificationChannel,
    Rule,
)
from metrics_app.ingest import parse_samples
from metrics_app.services import store_samples
from monitoring_site.jobs import install_schedules
from tests.monitoring_site.conftest import BASE_DIR, production_env
from tests.support.fake_vendors import WebhookReceiver
from tests.support.vendor_fixtures import WEBHOOK_SECRET
from tests.support.vendor_fixtures import webhook_receiver as webhook_receiver

ALERTS = 200
JOBS = ("alerts.evaluate", "alerts.notify.sweep", "alerts.notify.escalate")
DEADLINE = 180.0  # the schedulers wake every 30 s; 200 deliveries take seconds
DELIVERED = re.compile(r"notification delivered")


@contextlib.contextmanager
def two_clusters(tmp_path: Path) -> Iterator[list[Path]]:
    """Two hosts (qcluster + evaluator each) on the test database and broker; yields the
    qclusters' log files; stops every process."""
    database = connection.settings_dict
    name = f"several-{uuid.uuid4().hex[:8]}"  # one queue for both, shared with no other test
    env = production_env(
        tmp_path,
        HTTPS="false",
        DATABASE_URL=f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/"
        f"{database['NAME']}",
        REDIS_URL=django_settings.REDIS_URL or None,
        WORKER_CLUSTER_NAME=name,
        CACHE_KEY_PREFIX=name,
        Q_WORKERS="2",
        ALLOW_HTTP_WEBHOOKS="true",
        WEBHOOK_ALLOW_PRIVATE="true",
        METRICS_HOST_SAMPLING="false",
    )
    logs = [tmp_path / f"cluster-{n}.log" for n in (1, 2)]
    processes = []
    try:
        for n, log in enumerate(logs, start=1):
            # Each host runs what bin/run runs beside the web: a qcluster and an evaluator.
            for command in ("qcluster", "run_evaluator"):
                with (log if command == "qcluster" else tmp_path / f"evaluator-{n}.log").open(
                    "w"
                ) as out:
                    processes.append(
                        subprocess.Popen(
                            [sys.executable, "manage.py", command],
                            cwd=BASE_DIR,
                            env=env,
                            stdout=out,
                            stderr=subprocess.STDOUT,
                            start_new_session=True,
                        )
                    )
        yield logs
    finally:
        for process in processes:
            os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def firing_rule(webhook_receiver: WebhookReceiver) -> Rule:
    """A rule true for 200 queues now, notifying the recording webhook."""
    channel = NotificationChannel(
        name="Ops webhook",
        kind="webhook",
        config={"url": webhook_receiver.url + "/hook", "secret": WEBHOOK_SECRET},
    )
    channel.full_clean()
    channel.save()
    rule = Rule.objects.create(
        name="Queue backed up",
        expression="max by (queue) (queue_size)",
        operator=">",
        threshold=100,
        for_seconds=0,
        channels=[],
    )
    rule.notification_channels.add(channel)
    raw = [
        {"metric": "queue_size", "labels": {"service": "queue", "queue": f"q{n:03}"}, "value": 500}
        for n in range(ALERTS)
    ]
    samples, errors = parse_samples(raw, now=timezone.now(), service=None, multi_service=True)
    assert errors == {}
    store_samples(samples=samples)
    return rule


def delivered_queues(webhook_receiver: WebhookReceiver) -> Counter[str]:
    """How many firing messages the receiver got per queue label."""
    return Counter(
        alert["labels"]["queue"]
        for body in webhook_receiver.bodies
        for alert in body["alerts"]
        if alert["status"] == "firing" and "queue" in alert["labels"]  # not a self-alert
    )


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_two_clusters_notify_each_of_200_firing_alerts_exactly_once(
    tmp_path: Path, webhook_receiver: WebhookReceiver, settings: Any
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("several worker clusters need PostgreSQL (with SQLite exactly one runs)")
    settings.ALLOW_HTTP_WEBHOOKS = settings.WEBHOOK_ALLOW_PRIVATE = True
    settings.WEBHOOK_ALLOWED_NETWORKS = []
    rule = firing_rule(webhook_receiver)
    install_schedules()
    Schedule.objects.exclude(name__in=JOBS).delete()

    with two_clusters(tmp_path) as logs:
        deadline = time.monotonic() + DEADLINE
        while time.monotonic() < deadline and len(delivered_queues(webhook_receiver)) < ALERTS:
            time.sleep(1)
        time.sleep(5)  # a second delivery, if any were coming, has had time to arrive

    output = "\n".join(log.read_text() for log in logs)
    counts = delivered_queues(webhook_receiver)
    failures = set(NotificationAttempt.objects.exclude(error="").values_list("error", flat=True))
    assert len(counts) == ALERTS, (failures, output[-3000:])
    assert set(counts.values()) == {1}  # each alert notified once, none twice
    alerts = Alert.objects.filter(rule=rule)
    assert alerts.count() == ALERTS and not alerts.exclude(state="firing").exists()
    firing_events = AlertEvent.objects.filter(alert__rule=rule, kind="firing")
    assert firing_events.count() == ALERTS
    rows = Notification.objects.filter(alert__rule=rule)
    assert rows.count() == ALERTS and not rows.exclude(state="delivered").exists()
    attempts = NotificationAttempt.objects.filter(notification__alert__rule=rule)
    assert attempts.count() == ALERTS  # one send per row: no row was sent twice
    # Each interval boundary was evaluated by one cycle, whichever cluster ran it.
    cycles = EvaluationCycle.objects.filter(skipped=False)
    twice = cycles.values("scheduled_for").annotate(n=Count("pk")).filter(n__gt=1)
    assert cycles.exists() and not twice.exists()
    # One evaluator held the heartbeat; the other stood by (bin/evaluator's lease).
    holders = [
        "evaluator holds the heartbeat" in (tmp_path / f"evaluator-{n}.log").read_text()
        for n in (1, 2)
    ]
    assert sorted(holders) == [False, True]
    # Both clusters delivered: the load is shared (each log counts its own deliveries).
    per_cluster = [len(DELIVERED.findall(log.read_text())) for log in logs]
    assert sum(per_cluster) >= ALERTS and all(per_cluster), per_cluster
