"""The content of a day's report, read from every app's rows: uptime, incidents, business, jobs.

A day is a date on the clock of ``TIME_ZONE``: from its local midnight to the next, so 23 or 25
hours long across a daylight-saving change. Each section says whether it had data; a figure
without data is ``None``, never a zero presented as a fact.
"""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Count, Max, Q
from django.utils import timezone

from alerts.models import Alert, Notification
from alerts.severity import Severity
from health.models import Service
from health.selectors import down_intervals, iso, uptime_between
from metrics_app.selectors import counter_sums
from monitoring_site.jobs import all_jobs
from monitoring_site.models import JobRun
from reports import hooks

TOP = 5
# Report figure -> counter series (metrics_app's catalogue).
COUNTERS = {
    "tickets": "tickets_sold_total",
    "revenue_cents": "revenue_total_cents",
    "refunds": "refunds_processed_total",
    "payments_succeeded": "payment_success_total",
    "payments_failed": "payment_failure_total",
    "nft_mints": "nft_minted_total",
}
FIGURES = (
    "tickets",
    "revenue_cents",
    "refunds",
    "refund_rate",
    "payment_success_rate",
    "nft_mints",
)
RATES = ("refund_rate", "payment_success_rate")


@dataclass(frozen=True)
class Day:
    """A date in a time zone and the instants it spans, ``[start, end)`` in UTC."""

    date: date
    zone: str

    @property
    def start(self) -> datetime:
        return _midnight(self.date, self.zone)

    @property
    def end(self) -> datetime:
        return _midnight(self.date + timedelta(days=1), self.zone)

    def shifted(self, days: int) -> Day:
        return Day(self.date + timedelta(days=days), self.zone)

    def hours(self) -> list[datetime]:
        """The starts of the day's hours (UTC): 23, 24 or 25 of them."""
        count = int((self.end - self.start) / timedelta(hours=1))
        return [self.start + timedelta(hours=step) for step in range(count)]

    def local(self, moment: datetime) -> datetime:
        return moment.astimezone(ZoneInfo(self.zone))


def _midnight(day: date, zone: str) -> datetime:
    return datetime.combine(day, time(0), tzinfo=ZoneInfo(zone)).astimezone(UTC)


def today(now: datetime | None = None, zone: str | None = None) -> date:
    """The date on the clock of ``zone`` (``TIME_ZONE``) at ``now``."""
    return (now or timezone.now()).astimezone(ZoneInfo(zone or settings.TIME_ZONE)).date()


def report_data(day: Day, *, now: datetime | None = None) -> dict[str, Any]:
    """Every figure of the report of ``day``, as stored and served."""
    now = now or timezone.now()
    sections = {
        "uptime": uptime_section(day),
        "incidents": incidents_section(day, now=now),
        "business": business_section(day, now=now),
        "anomalies": hooks.anomalies(day.start, day.end),
        "jobs": jobs_section(day),
    }
    return {
        "day": day.date.isoformat(),
        "time_zone": day.zone,
        "start": iso(day.start),
        "end": iso(day.end),
        "hours": len(day.hours()),
        "generated_at": iso(now),
        "has_data": any(
            sections[name]["has_data"] for name in ("uptime", "incidents", "business", "jobs")
        ),
        **sections,
    }


# --- uptime -------------------------------------------------------------------------------------


def uptime_section(day: Day) -> dict[str, Any]:
    """Share of checks that found each platform service up (or degraded), and the outages."""
    services = list(Service.objects.exclude(kind=Service.Kind.MONITOR).order_by("name"))
    ids = [service.pk for service in services]
    counts = uptime_between(ids, start=day.start, end=day.end)
    outages = down_intervals(ids, start=day.start, end=day.end)
    rows = [_service_uptime(s, counts.get(s.pk), outages.get(s.pk, []), day) for s in services]
    rows = [row for row in rows if row["checks"] or row["down_seconds"]]
    checks = sum(row["checks"] for row in rows)
    available = sum(row["available"] for row in rows)
    worst = sorted(
        (_outage(s, o, day) for s in services for o in outages.get(s.pk, [])),
        key=lambda outage: (-outage["seconds"], outage["start"], outage["service"]),
    )
    return {
        "has_data": checks > 0,
        "overall": _ratio(available, checks),
        "checks": checks,
        "services": rows,
        "worst_outages": worst[:TOP],
    }


def _service_uptime(
    service: Service, counts: tuple[int, int] | None, outages: list[Any], day: Day
) -> dict[str, Any]:
    checks, available = counts or (0, 0)
    return {
        "service": service.slug,
        "name": service.name,
        "critical": service.critical,
        "checks": checks,
        "available": available,
        "uptime": _ratio(available, checks),
        "down_seconds": sum(_outage(service, o, day)["seconds"] for o in outages),
    }


def _outage(service: Service, outage: tuple[datetime, datetime | None, str], day: Day) -> dict:
    began, ended, cause = outage
    until = ended or day.end
    return {
        "service": service.slug,
        "name": service.name,
        "start": iso(began),
        "end": iso(ended),
        "ongoing": ended is None,
        "seconds": round((until - began).total_seconds()),
        "cause": cause,
    }


# --- incidents ----------------------------------------------------------------------------------


def incident_alerts(day: Day) -> list[Alert]:
    """Alerts that fired during the day (test alerts left out), oldest first.

    Kept here until ``alerts`` offers this read as a selector of its own.
    """
    # A subquery, not exclude(a, b): a label missing from the JSON is NULL, and NOT (a AND NULL)
    # would drop every self-check alert without an ``alertname``.
    tests = Alert.objects.filter(source=Alert.Source.SELF, labels__alertname="test")
    return list(
        Alert.objects.filter(fired_at__gte=day.start, fired_at__lt=day.end)
        .exclude(pk__in=tests.values("pk"))
        .order_by("fired_at", "pk")
    )


def incidents_section(day: Day, *, now: datetime) -> dict[str, Any]:
    """Alerts by severity, time to acknowledge and resolve, noisiest rules, longest, pages sent."""
    alerts = incident_alerts(day)
    severities = Counter(alert.severity for alert in alerts)
    ordered = [s.value for s in sorted(Severity, key=lambda s: s.rank) if s in severities]
    ordered += sorted(set(severities) - set(ordered))
    to_ack = [_seconds(a.fired_at, a.acknowledged_at) for a in alerts if a.acknowledged_at]
    to_resolve = [_seconds(a.fired_at, a.resolved_at) for a in alerts if a.resolved_at]
    rules = Counter(alert.rule_name for alert in alerts)
    longest = sorted((_incident(a, now) for a in alerts), key=lambda i: (-i["seconds"], i["id"]))
    return {
        "has_data": bool(alerts),
        "total": len(alerts),
        "by_severity": {severity: severities[severity] for severity in ordered},
        "acknowledge": _durations(to_ack),
        "resolve": _durations(to_resolve),
        "noisiest_rules": [
            {"rule": rule, "alerts": count}
            for rule, count in sorted(rules.items(), key=lambda item: (-item[1], item[0]))[:TOP]
        ],
        "longest": longest[:TOP],
        "timeline": [_incident(alert, now) for alert in alerts],
        "pages": pages_per_channel(day),
    }


def _incident(alert: Alert, now: datetime) -> dict[str, Any]:
    """One alert; an open one lasted "so far", until the report was made."""
    fired = alert.fired_at or alert.started_at
    until = alert.resolved_at or max(now, fired)
    return {
        "id": alert.pk,
        "rule": alert.rule_name,
        "severity": alert.severity,
        "summary": alert.summary,
        "fired_at": iso(fired),
        "acknowledged_at": iso(alert.acknowledged_at),
        "resolved_at": iso(alert.resolved_at),
        "ongoing": alert.resolved_at is None,
        "seconds": _seconds(fired, until),
    }


def pages_per_channel(day: Day) -> list[dict[str, Any]]:
    """Per channel: notifications delivered during the day, and those given up as failed."""
    in_day = Q(delivered_at__gte=day.start, delivered_at__lt=day.end)
    failed = Q(state=Notification.State.FAILED, created_at__gte=day.start, created_at__lt=day.end)
    rows = (
        Notification.objects.filter(in_day | failed)
        .exclude(kind=Notification.Kind.TEST_MESSAGE)
        .values("channel__name", "channel__kind")
        .annotate(
            delivered=Count("pk", filter=in_day & Q(state=Notification.State.DELIVERED)),
            failed=Count("pk", filter=failed),
        )
        .order_by("channel__name")
    )
    return [
        {
            "channel": row["channel__name"],
            "kind": row["channel__kind"],
            "delivered": row["delivered"],
            "failed": row["failed"],
        }
        for row in rows
    ]


def _seconds(start: datetime | None, end: datetime) -> int:
    """Seconds from ``start`` (an incident's firing: never None for one that fired) to ``end``."""
    assert start is not None
    return round((end - start).total_seconds())


def _durations(values: list[int]) -> dict[str, Any]:
    return {
        "count": len(values),
        "median_seconds": statistics.median(values) if values else None,
        "worst_seconds": max(values) if values else None,
    }


# --- business -----------------------------------------------------------------------------------


def business_section(day: Day, *, now: datetime) -> dict[str, Any]:
    """The day's totals beside the day before and the same day a week earlier."""
    this, before, week = (
        business_figures(d, now=now) for d in (day, day.shifted(-1), day.shifted(-7))
    )
    figures = {
        name: {
            "value": this[name],
            "day_before": before[name],
            "week_before": week[name],
            "change_day_before": _change(this[name], before[name], rate=name in RATES),
            "change_week_before": _change(this[name], week[name], rate=name in RATES),
        }
        for name in FIGURES
    }
    return {
        "has_data": this["has_data"],
        "figures": figures,
        "tickets_per_hour": tickets_per_hour(day, now=now),
    }


def business_figures(day: Day, *, now: datetime) -> dict[str, Any]:
    """The day's totals; all None on a day without a business sample.

    On a day with samples, a counter that received none counts zero (services push increments
    only when something happens).
    """
    sums = counter_sums(COUNTERS.values(), start=day.start, end=day.end, now=now)
    if not sums:
        return {"has_data": False, **{name: None for name in FIGURES}}
    got = {name: _whole(sums.get(series, 0.0)) or 0 for name, series in COUNTERS.items()}
    payments = got["payments_succeeded"] + got["payments_failed"]
    return {
        "has_data": True,
        "tickets": got["tickets"],
        "revenue_cents": got["revenue_cents"],
        "refunds": got["refunds"],
        "refund_rate": _ratio(got["refunds"], got["tickets"]),
        "payment_success_rate": _ratio(got["payments_succeeded"], payments),
        "nft_mints": got["nft_mints"],
    }


def tickets_per_hour(day: Day, *, now: datetime) -> list[dict[str, Any]]:
    """Tickets sold in each local hour, and in the same wall-clock hour a week earlier.

    An hour without a sample is zero on a day with business data, None on a day without.
    """
    earlier = day.shifted(-7)
    week = {_label(earlier, hour): value for hour, value in _hourly(earlier, now)}
    return [
        {
            "start": iso(hour),
            "label": _label(day, hour),
            "tickets": value,
            "week_before": week.pop(_label(day, hour), None),
        }
        for hour, value in _hourly(day, now)
    ]


def _hourly(day: Day, now: datetime) -> list[tuple[datetime, int | float | None]]:
    series = COUNTERS["tickets"]
    if not counter_sums(COUNTERS.values(), start=day.start, end=day.end, now=now):
        return [(hour, None) for hour in day.hours()]
    found = []
    for hour in day.hours():
        sums = counter_sums([series], start=hour, end=hour + timedelta(hours=1), now=now)
        found.append((hour, _whole(sums.get(series, 0))))
    return found


def _label(day: Day, hour: datetime) -> str:
    return f"{day.local(hour):%H:%M}"


def _change(value: float | None, base: float | None, *, rate: bool) -> dict[str, Any] | None:
    """The difference; for counts also the percentage (None from a zero base)."""
    if value is None or base is None:
        return None
    difference = value - base
    if rate:
        return {"difference": round(difference, 6), "percent": None}
    percent = round(difference / base * 100, 1) if base else None
    return {"difference": difference, "percent": percent}


def _whole(value: float | None) -> int | float | None:
    if value is None:
        return None
    return int(value) if float(value).is_integer() else value


def _ratio(part: float, whole: float | None) -> float | None:
    return round(part / whole, 6) if whole else None


# --- jobs ---------------------------------------------------------------------------------------


def jobs_section(day: Day) -> dict[str, Any]:
    """Each declared job's runs during the day, failures, longest run and last error."""
    runs = JobRun.objects.filter(started_at__gte=day.start, started_at__lt=day.end)
    failure = Q(outcome=JobRun.Outcome.FAILURE)
    counts: dict[str, dict[str, Any]] = {
        row["job"]: dict(row)
        for row in runs.values("job")
        .annotate(
            runs=Count("pk"), failures=Count("pk", filter=failure), longest=Max("duration_ms")
        )
        .order_by()
    }
    errors = dict(runs.filter(failure).order_by("job", "started_at").values_list("job", "error"))
    names = sorted({job.name for job in all_jobs()} | set(counts))
    rows = [
        {
            "job": name,
            "runs": counts.get(name, {}).get("runs", 0),
            "failures": counts.get(name, {}).get("failures", 0),
            "longest_ms": counts.get(name, {}).get("longest"),
            "last_error": errors.get(name, ""),
        }
        for name in names
    ]
    return {
        "has_data": bool(counts),
        "runs": sum(row["runs"] for row in rows),
        "failures": sum(row["failures"] for row in rows),
        "jobs": rows,
    }
