"""The daily report's anomalies section is fed by the detectors' real alerts (issue #16)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from alerts.anomalies.method import PointScore
from alerts.anomalies.services import ANOMALY_RULE_SPEC, create_detector, raise_anomaly
from alerts.bootstrap.rules import _rule_fields
from alerts.models import Rule
from reports import hooks
from reports.selectors import Day, report_data
from tests.alerts.anomalies.rows import EXPRESSION

pytestmark = pytest.mark.django_db

THE_DAY = Day(date(2026, 3, 29), "Europe/Paris")
MORNING = datetime(2026, 3, 30, 6, 0, tzinfo=UTC)


def test_without_a_detector_the_section_says_detection_is_not_enabled() -> None:
    assert report_data(THE_DAY, now=MORNING)["anomalies"] == {
        "enabled": False,
        "note": hooks.NOT_ENABLED,
        "items": [],
    }


def test_the_section_lists_the_anomalies_raised_that_day_with_expected_and_observed() -> None:
    detector = create_detector(
        fields={"name": "Tickets sold", "expression": EXPRESSION, "seasonality": "both"},
        user=None,
    )
    rule = Rule.objects.create(**_rule_fields(ANOMALY_RULE_SPEC))
    for at, observed in (
        (datetime(2026, 3, 29, 17, 20, tzinfo=UTC), 412.0),  # that day
        (datetime(2026, 3, 30, 2, 0, tzinfo=UTC), 12.0),  # the next day: not in this report
    ):
        point = PointScore(at, observed, 980.0, 850.0, 1110.0, -9.1, True)
        alert = raise_anomaly(detector, point, rule=rule, now=at)
        assert alert is not None
        alert.state = "resolved"
        alert.save(update_fields=["state"])

    section: dict[str, Any] = report_data(THE_DAY, now=MORNING)["anomalies"]

    assert section["enabled"] is True and section["note"] == ""
    assert section["items"] == [
        {
            "summary": "17:20 UTC Tickets sold: observed 412, expected 980",
            "detector": "Tickets sold",
            "at": "2026-03-29T17:20:00+00:00",
            "observed": 412.0,
            "expected": 980.0,
            "resolved_at": None,
        }
    ]
