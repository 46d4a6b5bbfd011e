"""A seeded platform for the report tests: one known day across a daylight-saving change.

2026-03-29 in Europe/Paris is 23 hours long (clocks go from 02:00 to 03:00): it runs from
2026-03-28 23:00 UTC to 2026-03-29 22:00 UTC. Its day before (2026-03-28, CET) and the same day a
week earlier (2026-03-22, CET) have sales too. Every figure the tests assert follows from the rows
below; rows just outside the day are there to prove they are left out.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.test.utils import override_settings

from alerts.models import Alert, Notification, NotificationChannel
from alerts.models.alerts import fingerprint_for
from health.models import Service, StateChange, UptimeHour
from monitoring_site.models import JobRun
from tests.alerts.metric_rows import Store
from tests.support.vendor_fixtures import smtp_server as smtp_server

ZONE = "Europe/Paris"
DAY = "2026-03-29"
START = datetime(2026, 3, 28, 23, 0, tzinfo=UTC)
END = datetime(2026, 3, 29, 22, 0, tzinfo=UTC)
# 08:00 in Paris (summer time) the morning after: when the daily job makes the report.
MORNING = datetime(2026, 3, 30, 6, 0, tzinfo=UTC)


def utc(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _report_settings() -> Iterator[None]:
    with override_settings(
        TIME_ZONE=ZONE,
        REPORT_TIME="08:00",
        REPORT_RECIPIENTS=["ops@example.com", "business@example.com"],
        REPORT_CATCH_UP_DAYS=7,
        SITE_URL="https://monitor.example.com",
        ALERT_FROM_EMAIL="reports@tickettoken.example",
    ):
        yield


@pytest.fixture
def seeded(db: Any) -> dict[str, Any]:
    services = seed_health()
    alerts = seed_alerts()
    seed_pages(alerts)
    seed_business()
    seed_jobs()
    return {"services": services, "alerts": alerts}


def seed_health() -> dict[str, Service]:
    payment = Service.objects.create(
        slug="payment", name="Payment", target="http://127.0.0.1:9", critical=True
    )
    search = Service.objects.create(slug="search", name="Search", target="http://127.0.0.1:9")
    monitor = Service.objects.create(
        slug="monitor-database", name="Database", target="database", kind=Service.Kind.MONITOR
    )
    hours = [START + timedelta(hours=n) for n in range(23)]
    rows = []
    for hour in hours:
        payment_down = 30 if hour == utc(3, 29, 10) else 0
        rows.append(
            UptimeHour(
                service=payment, hour=hour, checks=60, up=60 - payment_down, down=payment_down
            )
        )
        rows.append(UptimeHour(service=search, hour=hour, checks=60, up=50, degraded=10))
        rows.append(UptimeHour(service=monitor, hour=hour, checks=60, down=60))
    for outside in (START - timedelta(hours=1), END):
        rows += [UptimeHour(service=s, hour=outside, checks=60, down=60) for s in (payment, search)]
    UptimeHour.objects.bulk_create(rows)
    changes = [
        (payment, "unknown", "up", utc(3, 1, 9), "2 successful checks in a row"),
        (payment, "up", "down", utc(3, 29, 10), "3 failed checks in a row: HTTP 503"),
        (payment, "down", "up", utc(3, 29, 10, 30), "2 successful checks in a row"),
        (search, "up", "down", utc(3, 28, 22), "3 failed checks in a row: timed out"),
        (search, "down", "up", utc(3, 29, 0, 15), "2 successful checks in a row"),
    ]
    for service, old, new, at, cause in changes:
        StateChange.objects.create(
            service=service, from_state=old, to_state=new, at=at, cause=cause
        )
    return {"payment": payment, "search": search}


def make_alert(rule: str, severity: str, fired: datetime | None, **times: Any) -> Alert:
    labels = times.pop("labels", {"service": "payment"})
    source = times.pop("source", Alert.Source.RULE)
    state = Alert.State.RESOLVED if times.get("resolved_at") else Alert.State.FIRING
    return Alert.objects.create(
        source=source,
        fingerprint=fingerprint_for(source, rule, {**labels, "at": str(fired)}),
        labels=labels,
        state=times.pop("state", state),
        severity=severity,
        rule_name=rule,
        summary=f"{rule} on payment",
        started_at=fired or utc(3, 29, 12),
        fired_at=fired,
        **times,
    )


def seed_alerts() -> dict[str, Alert]:
    return {
        "payment_down": make_alert(
            "PaymentDown",
            "critical",
            utc(3, 29, 10, 1),
            acknowledged_at=utc(3, 29, 10, 5),
            resolved_at=utc(3, 29, 10, 31),
        ),
        "latency_night": make_alert(
            "HighLatency",
            "warning",
            utc(3, 29, 1),
            acknowledged_at=utc(3, 29, 1, 10),
            resolved_at=utc(3, 29, 2),
        ),
        "latency_morning": make_alert(
            "HighLatency", "warning", utc(3, 29, 5), resolved_at=utc(3, 29, 5, 20)
        ),
        "backlog": make_alert("QueueBacklog", "error", utc(3, 29, 20)),
        # Left out: one that never fired, a test alert, one of the day before.
        "pending": make_alert("Flapping", "info", None, state=Alert.State.PENDING),
        "test": make_alert(
            "Test alert",
            "info",
            utc(3, 29, 9),
            resolved_at=utc(3, 29, 9),
            source=Alert.Source.SELF,
            labels={"alertname": "test", "requested_by": "ada"},
        ),
        "yesterday": make_alert(
            "PaymentDown", "critical", utc(3, 28, 22, 59), resolved_at=utc(3, 28, 23, 30)
        ),
    }


def seed_pages(alerts: dict[str, Alert]) -> None:
    email = NotificationChannel.objects.create(
        kind="email", name="Ops email", config={"to": ["ops@example.com"]}
    )
    slack = NotificationChannel.objects.create(
        kind="slack", name="Ops Slack", config={"webhook_url": "https://hooks.example/x"}
    )
    alert = alerts["payment_down"]

    def note(channel: NotificationChannel, kind: str, state: str, at: datetime) -> None:
        Notification.objects.create(
            alert=alert,
            channel=channel,
            kind=kind,
            state=state,
            due_at=at,
            created_at=at,
            delivered_at=at if state == "delivered" else None,
        )

    for minute in (1, 5, 31):
        note(email, "firing", "delivered", utc(3, 29, 10, minute))
    note(slack, "firing", "delivered", utc(3, 29, 10, 1))
    note(slack, "resolved", "delivered", utc(3, 29, 10, 31))
    note(slack, "acknowledged", "failed", utc(3, 29, 10, 5))
    note(email, "test", "delivered", utc(3, 29, 9))  # a test message: not a page
    note(email, "firing", "delivered", utc(3, 28, 22, 59))  # the day before


def seed_business() -> None:
    store = Store()
    ticket, payment = {"service": "ticket"}, {"service": "payment"}
    minting = {"service": "minting"}

    def counter(name: str, labels: dict[str, str], at: datetime, amount: float) -> None:
        store.counter(name, labels, [at], amount)

    # The day: 5 tickets at 00:30 (CET), 20 at 09:15 and 15 at 23:45 (CEST) = 40.
    counter("tickets_sold_total", ticket, utc(3, 28, 23, 30), 5)
    counter("tickets_sold_total", ticket, utc(3, 29, 7, 15), 20)
    counter("tickets_sold_total", ticket, utc(3, 29, 21, 45), 15)
    counter("revenue_total_cents", {**payment, "type": "primary"}, utc(3, 29, 7, 15), 400000)
    counter("revenue_total_cents", {**payment, "type": "resale"}, utc(3, 29, 21, 45), 100050)
    counter("refunds_processed_total", payment, utc(3, 29, 7, 15), 2)
    counter("payment_success_total", payment, utc(3, 29, 7, 15), 38)
    counter("payment_failure_total", payment, utc(3, 29, 7, 15), 2)
    counter("nft_minted_total", minting, utc(3, 29, 7, 15), 40)
    # The next day's first minute (local midnight) is not the day's.
    counter("tickets_sold_total", ticket, END, 100)
    # The day before (CET): 25 at 10:00 and 7 at 23:59 = 32.
    counter("tickets_sold_total", ticket, utc(3, 28, 9), 25)
    counter("tickets_sold_total", ticket, utc(3, 28, 22, 59), 7)
    counter("revenue_total_cents", {**payment, "type": "primary"}, utc(3, 28, 9), 400000)
    counter("payment_success_total", payment, utc(3, 28, 9), 32)
    counter("nft_minted_total", minting, utc(3, 28, 9), 30)
    # A week earlier (CET): 50 tickets at 09:15.
    counter("tickets_sold_total", ticket, utc(3, 22, 8, 15), 50)
    counter("payment_success_total", payment, utc(3, 22, 8, 15), 45)
    counter("payment_failure_total", payment, utc(3, 22, 8, 15), 5)
    counter("nft_minted_total", minting, utc(3, 22, 8, 15), 50)
    store.save()


def seed_jobs() -> None:
    def run(job: str, at: datetime, ms: float, error: str = "") -> None:
        JobRun.objects.create(
            job=job,
            started_at=at,
            finished_at=at + timedelta(milliseconds=ms),
            duration_ms=ms,
            outcome="failure" if error else "success",
            error=error,
        )

    run("health.round", utc(3, 29, 1), 900)
    run("health.round", utc(3, 29, 2), 1500, "TimeoutError: the round missed its deadline")
    run("health.round", utc(3, 29, 3), 800)
    run("cleanup", utc(3, 29, 2), 4200)
    run("health.round", utc(3, 28, 22), 99999, "RuntimeError: the day before")
