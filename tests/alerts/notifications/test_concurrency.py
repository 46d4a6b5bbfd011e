"""At most one sender per row: overlapping dispatchers, and a dispatcher killed mid-send."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from django.db import connection, connections

from alerts.models import Alert, Notification, NotificationAttempt, NotificationChannel
from alerts.notifications.dispatch import dispatch_step
from tests.support.fake_vendors import PagerDutyServer, WebhookReceiver
from tests.support.vendor_fixtures import WEBHOOK_SECRET

SCRIPT = Path(__file__).with_name("dispatcher_process.py")


@pytest.mark.django_db(transaction=True)
def test_two_overlapping_dispatchers_send_each_notification_once(
    fire: Callable[..., Alert], webhook: NotificationChannel, webhook_receiver: WebhookReceiver
) -> None:
    alerts = [fire(channels=["webhook"], labels={"queue": f"q{n}"}) for n in range(30)]
    postgres = connection.vendor == "postgresql"
    barrier = threading.Barrier(2, timeout=20)
    # SQLite's in-memory test database answers "table is locked" to a concurrent writer instead
    # of waiting, so there the two dispatchers take turns step by step, as a file database would.
    one_writer = threading.Lock() if not postgres else None
    spans: list[tuple[float, float, int]] = []
    claimed: dict[int, list[int]] = {}
    errors: list[BaseException] = []

    def dispatcher(name: int) -> None:
        mine = claimed.setdefault(name, [])
        try:
            with connection.cursor() as cursor:  # this thread's own connection, opened now
                cursor.execute("SELECT pg_backend_pid()" if postgres else "SELECT 1")
                mine.append(-cursor.fetchone()[0])
            barrier.wait()
            started = time.monotonic()
            while True:
                if one_writer is not None:
                    with one_writer:
                        result = dispatch_step()
                else:
                    result = dispatch_step()
                if result is None:
                    break
                mine.append(result.notification_id)
            spans.append((started, time.monotonic(), name))
        except BaseException as exc:  # reported by the test thread
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=dispatcher, args=(n,)) for n in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert errors == []
    (start_a, end_a, _), (start_b, end_b, _) = spans
    assert max(start_a, start_b) < min(end_a, end_b)  # both were dispatching at once
    pids = {ids[0] for ids in claimed.values()}
    sent = [pk for ids in claimed.values() for pk in ids[1:]]
    if postgres:
        assert len(pids) == 2  # two server connections
        assert all(len(ids) > 1 for ids in claimed.values())  # each dispatcher sent some
    assert sorted(sent) == sorted(Notification.objects.values_list("pk", flat=True))
    assert len(webhook_receiver.requests) == 30
    received = sorted(b["alerts"][0]["labels"]["queue"] for b in webhook_receiver.bodies)
    assert received == sorted(f"q{n}" for n in range(30))
    assert NotificationAttempt.objects.count() == 30
    assert set(Notification.objects.values_list("state", "attempts")) == {("delivered", 1)}
    assert len(alerts) == 30


def _database_url(tmp_path: Path) -> str:
    """The test database on PostgreSQL; on SQLite (in memory here) a migrated file of its own."""
    if connection.vendor == "postgresql":
        s = connection.settings_dict
        return f"postgres://{s['USER']}@{s['HOST']}:{s['PORT']}/{s['NAME']}"
    url = f"sqlite:///{tmp_path / 'dispatch.sqlite3'}"
    _run(url, "migrate")
    return url


# Long enough that a step started right after the kill (a new Python process that sets Django
# up: seconds on a loaded machine) still finds the dead dispatcher's lease running.
LEASE_SECONDS = 30


def _env(url: str, pagerduty: PagerDutyServer) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "PYTEST_XDIST_WORKER")}
    env.update(
        DATABASE_URL=url,
        TESTING="true",
        PAGERDUTY_EVENTS_URL=pagerduty.events_url,
        ALLOW_HTTP_WEBHOOKS="true",
        WEBHOOK_ALLOW_PRIVATE="true",
        NOTIFY_LEASE_SECONDS=str(LEASE_SECONDS),
        CHANNEL_CONNECT_TIMEOUT="1",
        CHANNEL_READ_TIMEOUT="3",
    )
    return env


def _run(url: str, *args: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        env=env or {**os.environ, "DATABASE_URL": url, "TESTING": "true"},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_dispatcher_killed_mid_send_is_replaced_after_its_lease_and_pagerduty_folds_the_repeat(
    tmp_path: Path,
) -> None:
    with PagerDutyServer() as pagerduty:
        url = _database_url(tmp_path)
        env = _env(url, pagerduty)
        pk = _run(url, "setup", env=env)
        pagerduty.hang(seconds=30)  # PagerDuty holds the request: the dispatcher is mid-send

        victim = subprocess.Popen([sys.executable, str(SCRIPT), "step"], env=env)
        deadline = time.monotonic() + 30
        while not pagerduty.requests:
            assert time.monotonic() < deadline and victim.poll() is None
            time.sleep(0.05)
        victim.send_signal(signal.SIGKILL)
        victim.wait(10)
        killed_at = time.monotonic()

        held = json.loads(_run(url, "state", pk, env=env))
        lease_until = held.pop("lease_until")  # the dead dispatcher's lease, as stored
        held.pop("key")
        # The dead dispatcher's attempt was recorded before its send (issue #13).
        assert held == {"state": "sending", "attempts": ["in_flight"], "claimed": True, "count": 1}
        outcomes: list[tuple[float, str]] = []  # (wall-clock time the step ended, its outcome)
        while not outcomes or outcomes[-1][1] != "delivered":
            assert time.monotonic() - killed_at < LEASE_SECONDS + 60
            outcome = _run(url, "step", env=env)
            outcomes.append((time.time(), outcome))
            time.sleep(0.5)
        state = json.loads(_run(url, "state", pk, env=env))
        state.pop("lease_until")

    # Nothing could claim the row while the dead dispatcher's lease ran; the first step after
    # it did.
    during_lease = [outcome for ended, outcome in outcomes if ended < lease_until]
    assert during_lease and set(during_lease) == {"nothing due"}
    assert outcomes[-1][0] >= lease_until
    state.pop("key")
    # The resend is the second attempt of the same notification; the first shows interrupted.
    assert state == {
        "state": "delivered",
        "attempts": ["interrupted", "delivered"],
        "claimed": True,
        "count": 2,
    }
    first, second = pagerduty.requests
    assert first.json()["dedup_key"] == second.json()["dedup_key"]
    assert [r.status for r in pagerduty.requests] == [None, 202]
    assert len(pagerduty.incidents) == 1


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_webhook_resend_after_a_sigkilled_dispatcher_carries_the_same_idempotency_key(
    tmp_path: Path,
) -> None:
    """Issue #13: the receiver can drop the repeat, and the outbox shows it as a second attempt."""
    with PagerDutyServer() as pagerduty, WebhookReceiver(secret=WEBHOOK_SECRET) as receiver:
        url = _database_url(tmp_path)
        env = _env(url, pagerduty)
        pk = _run(url, "setup", receiver.url + "/hook", env=env)
        receiver.hang(seconds=30)  # the receiver holds the request: the dispatcher is mid-send

        victim = subprocess.Popen([sys.executable, str(SCRIPT), "step"], env=env)
        deadline = time.monotonic() + 30
        while not receiver.requests:
            assert time.monotonic() < deadline and victim.poll() is None
            time.sleep(0.05)
        victim.send_signal(signal.SIGKILL)
        victim.wait(10)
        killed_at = time.monotonic()

        outcome = ""
        while outcome != "delivered":
            assert time.monotonic() - killed_at < LEASE_SECONDS + 60
            outcome = _run(url, "step", env=env)
            time.sleep(0.5)
        state = json.loads(_run(url, "state", pk, env=env))

    first, second = receiver.requests
    assert (first.status, second.status) == (None, 200)
    key = state["key"]
    assert first.header("Idempotency-Key") == second.header("Idempotency-Key") == key
    assert first.json()["idempotencyKey"] == second.json()["idempotencyKey"] == key
    assert (state["attempts"], state["count"]) == (["interrupted", "delivered"], 2)
