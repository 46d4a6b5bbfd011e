"""A dispatcher in its own process (the kill test): ``python dispatcher_process.py COMMAND``.

Commands: ``migrate`` (a fresh SQLite file), ``setup [WEBHOOK_URL]`` (a PagerDuty channel, or a
webhook to the URL, and one queued notification; prints its id), ``step`` (one dispatch step;
prints the outcome), ``state ID`` (prints the row, its attempts and its idempotency key as JSON).
The database comes from DATABASE_URL.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "monitoring_site.settings")
os.environ.setdefault("TESTING", "true")

import django

django.setup()

from django.core.management import call_command  # noqa: E402
from django.utils import timezone  # noqa: E402

ROUTING_KEY = "R0UT1NGKEY0123456789abcdefABCDEF"


WEBHOOK_SECRET = "s3cret-webhook-signing-key"


def setup(webhook_url: str | None) -> None:
    from alerts.models import Alert, Notification, NotificationChannel
    from alerts.notifications.outbox import queue

    if webhook_url:
        channel = NotificationChannel.objects.create(
            name="Webhook", kind="webhook", config={"url": webhook_url, "secret": WEBHOOK_SECRET}
        )
    else:
        channel = NotificationChannel.objects.create(
            name="PagerDuty", kind="pagerduty", config={"routing_key": ROUTING_KEY}
        )
    now = timezone.now()
    alert = Alert.objects.create(
        fingerprint="kill-test",
        labels={"service": "payment"},
        state=Alert.State.FIRING,
        severity="critical",
        rule_name="Payment Failure Spike",
        summary="Payments fail",
        started_at=now,
        fired_at=now,
    )
    [row] = queue(alert=alert, kind=Notification.Kind.FIRING, targets=[(channel, 1)], now=now)
    print(row.pk)


def step() -> None:
    from alerts.notifications.dispatch import dispatch_step

    result = dispatch_step()
    print(result.outcome if result else "nothing due", flush=True)


def state(pk: int) -> None:
    from alerts.models import Notification

    row = Notification.objects.get(pk=pk)
    attempts = list(row.attempt_rows.order_by("at").values_list("outcome", flat=True))
    lease_until = row.lease_until.timestamp() if row.lease_until else None
    found = {"state": row.state, "attempts": attempts, "claimed": bool(row.claim)}
    extra = {"lease_until": lease_until, "count": row.attempts, "key": row.idempotency_key}
    print(json.dumps({**found, **extra}))


if __name__ == "__main__":
    command = sys.argv[1]
    if command == "migrate":
        call_command("migrate", verbosity=0)
    elif command == "setup":
        setup(sys.argv[2] if len(sys.argv) > 2 else None)
    elif command == "step":
        step()
    elif command == "state":
        state(int(sys.argv[2]))
    else:
        raise SystemExit(f"unknown command {command}")
