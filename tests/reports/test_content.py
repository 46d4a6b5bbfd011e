"""Every figure of a report, asserted exactly on a seeded day across a daylight-saving change."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from alerts.models import Alert
from reports import hooks
from reports.selectors import Day, report_data
from tests.reports.conftest import END, MORNING, START, ZONE, make_alert

pytestmark = pytest.mark.django_db

THE_DAY = Day(date(2026, 3, 29), ZONE)


def test_a_day_is_local_midnight_to_midnight_so_23_or_25_hours_across_a_dst_change() -> None:
    assert (THE_DAY.start, THE_DAY.end, len(THE_DAY.hours())) == (START, END, 23)
    autumn = Day(date(2026, 10, 25), ZONE)
    assert autumn.start == datetime(2026, 10, 24, 22, 0, tzinfo=UTC)
    assert autumn.end == datetime(2026, 10, 25, 23, 0, tzinfo=UTC)
    assert len(autumn.hours()) == 25
    assert len(Day(date(2026, 3, 10), ZONE).hours()) == 24


def test_uptime_per_service_and_overall_count_only_the_days_checks(seeded: Any) -> None:
    uptime = report_data(THE_DAY, now=MORNING)["uptime"]

    assert (uptime["has_data"], uptime["overall"], uptime["checks"]) == (True, 0.98913, 2760)
    assert uptime["services"] == [
        {
            "service": "payment",
            "name": "Payment",
            "critical": True,
            "checks": 1380,
            "available": 1350,
            "uptime": 0.978261,
            "down_seconds": 1800,
        },
        {
            "service": "search",
            "name": "Search",
            "critical": False,
            "checks": 1380,
            "available": 1380,
            "uptime": 1.0,
            "down_seconds": 4500,
        },
    ]


def test_the_worst_outages_are_clipped_to_the_day_longest_first(seeded: Any) -> None:
    outages = report_data(THE_DAY, now=MORNING)["uptime"]["worst_outages"]

    assert [(o["service"], o["start"], o["end"], o["seconds"], o["ongoing"]) for o in outages] == [
        ("search", "2026-03-28T23:00:00Z", "2026-03-29T00:15:00Z", 4500, False),
        ("payment", "2026-03-29T10:00:00Z", "2026-03-29T10:30:00Z", 1800, False),
    ]
    assert outages[1]["cause"] == "3 failed checks in a row: HTTP 503"


def test_incidents_count_alerts_fired_that_day_by_severity_with_response_times(
    seeded: Any,
) -> None:
    incidents = report_data(THE_DAY, now=MORNING)["incidents"]

    assert incidents["total"] == 4  # not the pending one, the test alert or the day before's
    assert incidents["by_severity"] == {"critical": 1, "error": 1, "warning": 2}
    # Acknowledged after 4 and 10 minutes; resolved after 30, 60 and 20 minutes.
    assert incidents["acknowledge"] == {"count": 2, "median_seconds": 420, "worst_seconds": 600}
    assert incidents["resolve"] == {"count": 3, "median_seconds": 1800, "worst_seconds": 3600}
    assert incidents["noisiest_rules"] == [
        {"rule": "HighLatency", "alerts": 2},
        {"rule": "PaymentDown", "alerts": 1},
        {"rule": "QueueBacklog", "alerts": 1},
    ]


def test_a_self_check_alert_counts_as_an_incident_and_only_test_alerts_are_left_out(
    db: Any,
) -> None:
    make_alert(
        "Workers stopped",
        "critical",
        datetime(2026, 3, 29, 4, 0, tzinfo=UTC),
        source=Alert.Source.SELF,
        labels={"check": "workers"},
    )
    make_alert(
        "Test alert",
        "info",
        datetime(2026, 3, 29, 4, 0, tzinfo=UTC),
        source=Alert.Source.SELF,
        labels={"alertname": "test"},
    )
    incidents = report_data(THE_DAY, now=MORNING)["incidents"]
    assert (incidents["total"], incidents["by_severity"]) == (1, {"critical": 1})


def test_the_longest_incidents_include_one_still_open_when_the_report_was_made(
    seeded: Any,
) -> None:
    alerts = seeded["alerts"]
    longest = report_data(THE_DAY, now=MORNING)["incidents"]["longest"]

    assert [(row["id"], row["seconds"], row["ongoing"]) for row in longest] == [
        (alerts["backlog"].pk, 10 * 3600, True),  # fired 20:00 UTC, open at 06:00 UTC next day
        (alerts["latency_night"].pk, 3600, False),
        (alerts["payment_down"].pk, 1800, False),
        (alerts["latency_morning"].pk, 1200, False),
    ]


def test_pages_per_channel_count_deliveries_and_failures_of_the_day_not_tests(
    seeded: Any,
) -> None:
    pages = report_data(THE_DAY, now=MORNING)["incidents"]["pages"]

    assert pages == [
        {"channel": "Ops Slack", "kind": "slack", "delivered": 2, "failed": 1},
        {"channel": "Ops email", "kind": "email", "delivered": 3, "failed": 0},
    ]


def test_business_totals_compare_with_the_day_before_and_a_week_earlier(seeded: Any) -> None:
    figures = report_data(THE_DAY, now=MORNING)["business"]["figures"]

    values = {name: (f["value"], f["day_before"], f["week_before"]) for name, f in figures.items()}
    assert values == {
        "tickets": (40, 32, 50),
        "revenue_cents": (500050, 400000, 0),
        "refunds": (2, 0, 0),
        "refund_rate": (0.05, 0.0, 0.0),
        "payment_success_rate": (0.95, 1.0, 0.9),
        "nft_mints": (40, 30, 50),
    }
    assert figures["tickets"]["change_day_before"] == {"difference": 8, "percent": 25.0}
    assert figures["tickets"]["change_week_before"] == {"difference": -10, "percent": -20.0}
    # From a zero base there is no percentage; rates change by a difference only.
    assert figures["revenue_cents"]["change_week_before"] == {"difference": 500050, "percent": None}
    assert figures["payment_success_rate"]["change_day_before"] == {
        "difference": -0.05,
        "percent": None,
    }


def test_tickets_per_hour_follow_the_local_clock_and_match_last_weeks_wall_clock_hour(
    seeded: Any,
) -> None:
    hours = report_data(THE_DAY, now=MORNING)["business"]["tickets_per_hour"]

    assert len(hours) == 23
    assert "02:00" not in [h["label"] for h in hours]  # the hour the clocks skipped
    sold = {h["label"]: (h["tickets"], h["week_before"]) for h in hours if h["tickets"]}
    assert sold == {"00:00": (5, 0), "09:00": (20, 50), "23:00": (15, 0)}
    assert sum(h["tickets"] for h in hours) == 40
    assert hours[0]["start"] == "2026-03-28T23:00:00Z"


def test_job_health_lists_each_jobs_runs_failures_and_last_error(seeded: Any) -> None:
    jobs = report_data(THE_DAY, now=MORNING)["jobs"]
    rows = {row["job"]: row for row in jobs["jobs"]}

    assert (jobs["runs"], jobs["failures"]) == (4, 1)
    assert rows["health.round"] == {
        "job": "health.round",
        "runs": 3,
        "failures": 1,
        "longest_ms": 1500.0,
        "last_error": "TimeoutError: the round missed its deadline",
    }
    assert (rows["cleanup"]["runs"], rows["cleanup"]["failures"]) == (1, 0)
    assert (rows["reports.daily"]["runs"], rows["reports.daily"]["longest_ms"]) == (0, None)


def test_without_a_provider_the_anomalies_section_says_detection_is_not_enabled(
    seeded: Any,
) -> None:
    anomalies = report_data(THE_DAY, now=MORNING)["anomalies"]

    assert anomalies == {"enabled": False, "note": hooks.NOT_ENABLED, "items": []}


def test_a_registered_anomaly_provider_fills_the_section(seeded: Any) -> None:
    asked: list[tuple[datetime, datetime]] = []

    def provider(start: datetime, end: datetime) -> dict[str, Any]:
        asked.append((start, end))
        return {"items": [{"summary": "tickets_sold_total far below its band at 09:00"}]}

    hooks.register_anomaly_provider(provider)
    try:
        anomalies = report_data(THE_DAY, now=MORNING)["anomalies"]
    finally:
        hooks.unregister_anomaly_provider(provider)

    assert asked == [(START, END)]
    assert anomalies["enabled"] is True
    assert anomalies["items"] == [{"summary": "tickets_sold_total far below its band at 09:00"}]


def test_a_day_with_no_data_says_so_with_empty_figures_not_zeros(db: Any) -> None:
    data = report_data(Day(date(2026, 3, 15), ZONE), now=MORNING)

    assert data["has_data"] is False
    assert (data["uptime"]["has_data"], data["uptime"]["overall"]) == (False, None)
    assert data["incidents"]["total"] == 0
    assert data["incidents"]["acknowledge"]["median_seconds"] is None
    assert data["business"]["has_data"] is False
    assert {f["value"] for f in data["business"]["figures"].values()} == {None}
    assert {h["tickets"] for h in data["business"]["tickets_per_hour"]} == {None}
    assert data["jobs"]["has_data"] is False
