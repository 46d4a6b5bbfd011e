"""Benchmark of notification delivery (issue 7).

1. Throughput: 1,000 queued notifications to a webhook receiver on 127.0.0.1, delivered by the
   outbox dispatchers in as many processes as a worker cluster runs by default (Q_WORKERS=2),
   each claiming rows under its lease; the floor, in the same run, is a loop of
   ``requests.Session().post`` of the same signed bodies to the same receiver. Target: within 3x
   the floor. Also printed: the database round trip (``SELECT 1``) in the same run, since each
   delivery costs three of them (claim, the attempt started before the send, record) besides its
   POST.
2. Latency: with a real worker cluster (``manage.py qcluster``, Redis broker) running, the delay
   from an evaluation that fires an alert to the receiver getting its message. Target: median
   under 2 s.

Run: .venv/bin/python bench/notify.py   (PostgreSQL database mon_bench_notify, created if missing;
BENCH_DATABASE_URL and BENCH_REDIS_URL override). Exits 1 when a target is missed.
"""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported at run time only once Django is set up
    from multiprocessing.synchronize import Event

    from alerts.channels.webhook import WebhookRequest
    from alerts.models import NotificationChannel
    from tests.support.fake_vendors import WebhookReceiver

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATABASE_URL = os.environ.get(
    "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/mon_bench_notify"
)
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/7")
os.environ.update(
    DATABASE_URL=DATABASE_URL,
    REDIS_URL=REDIS_URL,
    CACHE_KEY_PREFIX="bench-notify",
    # Under TESTING the cluster name gets this suffix: the broker queue is "monitoring-bench",
    # apart from test runs sharing the Redis database.
    PYTEST_XDIST_WORKER="bench",
    WEBHOOK_ALLOW_PRIVATE="true",
    ALLOW_HTTP_WEBHOOKS="true",
)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "monitoring_site.settings")
os.environ.setdefault("TESTING", "true")
os.environ.setdefault("LOG_LEVEL", "ERROR")

import psycopg  # noqa: E402

COUNT = 1000
DISPATCHERS = int(os.environ.get("Q_WORKERS", "2"))
RUNS = 3
TRIALS = 15
TARGET_RATIO = 3.0
TARGET_LATENCY = 2.0
SECRET = "bench-webhook-signing-secret"


def ensure_database() -> None:
    name = DATABASE_URL.rsplit("/", 1)[1]
    admin_url = DATABASE_URL.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')


def reset() -> None:
    from alerts.models import Alert, AlertFingerprint, NotificationChannel, Rule

    Alert.objects.all().delete()
    AlertFingerprint.objects.all().delete()
    Rule.objects.all().delete()
    NotificationChannel.objects.all().delete()
    # Deleting thousands of rows at once is the bench's churn, not production's: let the outbox
    # start each run as autovacuum keeps it (dead index entries would slow the first claims).
    from django.db import connection

    with connection.cursor() as cursor:
        for model in ("notification", "notificationattempt", "alert", "alertevent"):
            cursor.execute(f"VACUUM ANALYZE alerts_{model}")


def make_channel(receiver_url: str) -> NotificationChannel:
    from alerts.models import NotificationChannel

    channel = NotificationChannel(
        name="Bench webhook", kind="webhook", config={"url": receiver_url, "secret": SECRET}
    )
    channel.full_clean()
    channel.save()
    return channel


def queue_batch(channel: NotificationChannel) -> list[WebhookRequest]:
    """1,000 queued rows (one alert, one wake-up) and the exact requests they will send."""
    from django.utils import timezone

    from alerts.models import Alert, Notification
    from alerts.notifications.messages import from_payload
    from alerts.notifications.outbox import queue

    now = timezone.now()
    alert = Alert.objects.create(
        fingerprint=f"bench-{time.time_ns()}",
        labels={"service": "payment"},
        state=Alert.State.FIRING,
        severity="critical",
        rule_name="Bench",
        summary="bench",
        started_at=now,
        fired_at=now,
    )
    rows = queue(
        alert=alert, kind=Notification.Kind.FIRING, targets=[(channel, 1)] * COUNT, now=now
    )
    transport = channel.transport()
    return [transport.build(from_payload(row.payload)) for row in rows]


def _dispatcher_process(start: Event) -> None:
    """One worker process: connect, wait for the start, deliver until nothing is due."""
    from django.db import connection, connections

    from alerts.notifications.dispatch import dispatch_due

    connection.ensure_connection()
    start.wait()
    try:
        dispatch_due(wait=False, budget=600)
    finally:
        connections.close_all()


def dispatch_all() -> float:
    """Wall time for DISPATCHERS worker processes (as django-q2 runs them) to deliver everything."""
    import multiprocessing

    from django.db import connections

    connections.close_all()  # the children open their own connections
    context = multiprocessing.get_context("fork")
    start = context.Event()
    workers = [
        context.Process(target=_dispatcher_process, args=(start,)) for _ in range(DISPATCHERS)
    ]
    for worker in workers:
        worker.start()
    time.sleep(1.0)  # every worker is connected and waiting
    started = time.perf_counter()
    start.set()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - started
    if any(worker.exitcode for worker in workers):
        raise SystemExit("a dispatcher process failed")
    return elapsed


def floor(requests_to_send: list[WebhookRequest]) -> float:
    import requests

    session = requests.Session()
    started = time.perf_counter()
    for request in requests_to_send:
        response = session.post(request.url, data=request.body, headers=request.headers, timeout=10)
        response.raise_for_status()
    elapsed = time.perf_counter() - started
    session.close()
    return elapsed


def throughput(receiver: WebhookReceiver) -> tuple[float, float]:
    from alerts.models import Notification

    ours, floors = [], []
    for _ in range(RUNS):
        reset()
        channel = make_channel(receiver.url + "/hook")
        built = queue_batch(channel)
        purge_broker()
        receiver.reset()
        ours.append(dispatch_all())
        delivered = Notification.objects.filter(state="delivered").count()
        assert delivered == COUNT, f"only {delivered} of {COUNT} delivered"
        assert len(receiver.answered(200)) == COUNT
        receiver.reset()
        floors.append(floor(built))
        assert len(receiver.answered(200)) == COUNT
    return statistics.median(ours), statistics.median(floors)


def round_trip() -> float:
    """Median seconds of one ``SELECT 1`` on the bench database (the machine's current state)."""
    from django.db import connection

    times = []
    with connection.cursor() as cursor:
        for _ in range(200):
            started = time.perf_counter()
            cursor.execute("SELECT 1")
            cursor.fetchone()
            times.append(time.perf_counter() - started)
    return statistics.median(times)


def purge_broker() -> None:
    from django_q.brokers import get_broker

    get_broker().purge_queue()


def start_worker() -> subprocess.Popen:
    env = {**os.environ, "LOG_LEVEL": "WARNING"}
    worker = subprocess.Popen(
        [sys.executable, str(ROOT / "manage.py"), "qcluster"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    time.sleep(4)  # the cluster forks its workers and starts polling the broker
    return worker


def stop_worker(worker: subprocess.Popen) -> None:
    os.killpg(worker.pid, signal.SIGTERM)
    try:
        worker.wait(20)
    except subprocess.TimeoutExpired:
        os.killpg(worker.pid, signal.SIGKILL)


def latency(receiver: WebhookReceiver) -> list[float]:
    """Evaluation that fires an alert -> the receiver has its message, TRIALS times."""
    from django.utils import timezone

    from alerts.engine.lifecycle import apply_evaluation
    from alerts.language import Sample, Vector
    from alerts.models import Notification, Rule

    reset()
    make_channel(receiver.url + "/hook")
    rule = Rule.objects.create(
        name="Bench queue",
        expression="max(queue_size)",
        threshold=100,
        for_seconds=0,
        channels=["webhook"],
        annotations={"summary": "queue at {value}"},
    )
    receiver.reset()
    delays = []
    for trial in range(TRIALS):
        labels = {"trial": str(trial)}
        started = time.time()
        apply_evaluation(rule=rule, result=Vector([Sample(labels, 500.0)]), now=timezone.now())
        arrived = wait_for(receiver, trial)
        delays.append(arrived - started)
        apply_evaluation(rule=rule, result=Vector([]), now=timezone.now())  # resolves it
        deadline = time.time() + 10
        while Notification.objects.exclude(state="delivered").exists():
            assert time.time() < deadline, "resolved message not delivered"
            time.sleep(0.05)
    return delays


def wait_for(receiver: WebhookReceiver, trial: int) -> float:
    deadline = time.time() + 30
    while time.time() < deadline:
        for request in receiver.answered(200):
            body = request.json()
            alert = body["alerts"][0]
            if body["status"] == "firing" and alert["labels"].get("trial") == str(trial):
                return request.at.timestamp()
        time.sleep(0.005)
    raise SystemExit(f"trial {trial}: no message within 30 s (is the worker running?)")


def main() -> int:
    ensure_database()
    import django

    django.setup()
    from django.core.management import call_command

    from tests.support.fake_vendors import WebhookReceiver

    call_command("migrate", verbosity=0)
    with WebhookReceiver(secret=SECRET) as receiver:
        ours, reference = throughput(receiver)
        trip = round_trip()
        purge_broker()
        worker = start_worker()
        try:
            delays = latency(receiver)
        finally:
            stop_worker(worker)
        reset()
    ratio = ours / reference
    median_delay = statistics.median(delays)
    print(f"delivery of {COUNT} queued notifications ({DISPATCHERS} dispatchers): {ours:.3f} s")
    print(f"floor (requests.Session().post loop, same bodies): {reference:.3f} s")
    print(f"ratio: {ratio:.2f}x (target <= {TARGET_RATIO}x)")
    print(f"database round trip (SELECT 1), median: {trip * 1000:.2f} ms")
    print(
        f"evaluation -> receiver with the worker running: median {median_delay * 1000:.0f} ms, "
        f"max {max(delays) * 1000:.0f} ms over {TRIALS} alerts (target median < {TARGET_LATENCY} s)"
    )
    missed = ratio > TARGET_RATIO or median_delay >= TARGET_LATENCY
    print("FAIL" if missed else "OK")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
