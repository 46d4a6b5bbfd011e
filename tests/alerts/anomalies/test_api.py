"""The detectors API, /anomalies and forecasts: what they store, answer and refuse."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.utils import timezone
from rest_framework.test import APIClient

from alerts.anomalies.services import ANOMALY_RULE_SPEC, create_detector, fit_detector
from alerts.bootstrap.rules import _rule_fields
from alerts.models import Alert, AnomalyDetector, AnomalyScore, Rule
from tests.alerts.anomalies.generator import START, generate
from tests.alerts.anomalies.rows import EXPRESSION, write_counter

pytestmark = pytest.mark.django_db

URL = "/api/v1/monitoring/anomalies/detectors"
END = START + timedelta(weeks=5)
BODY = {
    "name": "Tickets sold",
    "expression": "sum(increase(tickets_sold_total[15m])) * 4",
    "seasonality": "both",
    "sensitivity": 6,
    "direction": "down",
    "minimum_history": "3w",
    "timezone": "Europe/Paris",
    "severity": "critical",
    "channels": ["slack"],
}


def test_an_admin_creates_a_detector_and_a_viewer_reads_it(
    admin_client_api: APIClient, viewer_client: APIClient
) -> None:
    created = admin_client_api.post(URL, BODY, format="json")

    assert created.status_code == 201, created.json()
    detector = AnomalyDetector.objects.get(pk=created.json()["id"])
    assert detector.slug == "tickets-sold"
    assert detector.minimum_history_seconds == 21 * 86400
    assert (detector.sensitivity, detector.direction, detector.timezone) == (
        6.0,
        "down",
        "Europe/Paris",
    )
    read = viewer_client.get(f"{URL}/{detector.pk}").json()
    assert read["status"] == "new" and read["fitted"] is False
    assert read["minimum_history"] == "3w"
    assert viewer_client.post(URL, BODY, format="json").status_code == 403


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"sensitivity": 11}, "sensitivity", "between 1 and 10"),
        ({"sensitivity": 0.5}, "sensitivity", "between 1 and 10"),
        ({"sensitivity": "high"}, "sensitivity", "A number is required"),
        ({"expression": "sum(rate(tickets_sold_total[5m]"}, "expression", "column"),
        ({"expression": "nope_total + "}, "expression", ""),
        ({"expression": "sum(increase(tickets_sold_total[1m]))"}, "expression", "5-minute"),
        ({"expression": "42"}, "expression", "reads no metric"),
        ({"seasonality": "monthly"}, "seasonality", ""),
        ({"direction": "sideways"}, "direction", ""),
        ({"minimum_history": "40d"}, "minimum_history", ""),
        ({"timezone": "Mars/Olympus"}, "timezone", "not a time zone"),
        ({"channels": ["carrier-pigeon"]}, "channels", "Unknown channel"),
        ({"severity": "apocalyptic"}, "severity", ""),
    ],
)
def test_bad_input_is_a_400_naming_the_field(
    admin_client_api: APIClient, change: dict[str, Any], field: str, words: str
) -> None:
    response = admin_client_api.post(URL, {**BODY, **change}, format="json")

    assert response.status_code == 400
    details = response.json()["details"]
    assert field in details, details
    assert words in " ".join(details[field])
    assert not AnomalyDetector.objects.exists()


def test_a_seasonality_longer_than_the_history_kept_is_refused(
    admin_client_api: APIClient, settings: Any
) -> None:
    settings.METRICS_ROLLUP_5M_RETENTION_DAYS = 14

    response = admin_client_api.post(URL, {**BODY, "minimum_history": "0s"}, format="json")

    assert response.status_code == 400
    assert "kept 14 days" in response.json()["details"]["seasonality"][0]
    daily = admin_client_api.post(
        URL, {**BODY, "minimum_history": "0s", "seasonality": "daily"}, format="json"
    )
    assert daily.status_code == 201


def test_a_patch_that_breaks_a_detector_changes_nothing(admin_client_api: APIClient) -> None:
    detector = create_detector(fields={**_fields(), "name": "Kept"}, user=None)

    response = admin_client_api.patch(f"{URL}/{detector.pk}", {"sensitivity": 42}, format="json")

    assert response.status_code == 400
    detector.refresh_from_db()
    assert detector.sensitivity == 5.0 and detector.version == 1


def test_the_forecast_gives_the_next_24_hours_with_their_band(viewer_client: APIClient) -> None:
    write_counter(generate(1, inject=False).history, buckets_from=END)
    detector = create_detector(fields=_fields(), user=None)
    with time_machine.travel(END, tick=False):
        fit_detector(detector=detector, now=END)
    # Asked now: the model is a table of the week, read from the step under way on.
    body = viewer_client.get(f"{URL}/{detector.pk}/forecast").json()

    assert body["status"] == "ready" and body["message"] == ""
    points = body["points"]
    assert len(points) == 288
    first = datetime.fromisoformat(points[0]["at"])
    assert timezone.now() - timedelta(minutes=5) < first <= timezone.now()
    assert points[-1]["at"] == (first + timedelta(hours=23, minutes=55)).isoformat().replace(
        "+00:00", "Z"
    )
    assert all(p["lower"] <= p["expected"] <= p["upper"] for p in points)
    # The daily cycle peaks at 18:00 and bottoms out at 06:00.
    by_hour = {p["at"][11:16]: p["expected"] for p in points}
    assert by_hour["18:00"] > 1.5 * by_hour["06:00"]


def test_a_learning_detector_has_no_forecast_and_says_why(viewer_client: APIClient) -> None:
    history = generate(1, inject=False).history
    write_counter(
        history.between(int((END - timedelta(days=5)).timestamp()), 2**40), buckets_from=END
    )
    detector = create_detector(fields=_fields(), user=None)
    with time_machine.travel(END, tick=False):
        fit_detector(detector=detector, now=END)

    body = viewer_client.get(f"{URL}/{detector.pk}/forecast").json()
    assert body["status"] == "learning"
    assert body["message"] == "learning: 5.0 days of history, 21.0 days needed"
    assert body["points"] == []


def test_anomalies_lists_open_anomalies_and_filtered_scores(viewer_client: APIClient) -> None:
    detector = create_detector(fields=_fields(), user=None)
    other = create_detector(fields={**_fields(), "name": "Other", "slug": "other"}, user=None)
    for minutes, flagged in ((0, False), (5, True), (10, False)):
        for owner in (detector, other):
            AnomalyScore.objects.create(
                detector=owner,
                at=END + timedelta(minutes=minutes),
                observed=5.0 if flagged else 10.0,
                expected=10.0,
                lower=8.0,
                upper=12.0,
                score=-5.0 if flagged else 0.0,
                anomalous=flagged,
            )
    rule = Rule.objects.create(**_rule_fields(ANOMALY_RULE_SPEC))
    alert = Alert.objects.create(
        source=Alert.Source.ANOMALY,
        rule=rule,
        detector=detector,
        fingerprint="f" * 64,
        state=Alert.State.FIRING,
        rule_name=detector.name,
        started_at=END,
    )
    since = (END - timedelta(hours=1)).isoformat()
    body = viewer_client.get(
        "/api/v1/monitoring/anomalies",
        {"detector": "tickets-sold", "anomalous": "true", "since": since},
    ).json()
    everything = viewer_client.get(
        "/api/v1/monitoring/anomalies", {"limit": "4", "since": since}
    ).json()
    recent = viewer_client.get("/api/v1/monitoring/anomalies").json()  # the last 24 h
    bad_limit = viewer_client.get("/api/v1/monitoring/anomalies", {"limit": "0"})
    bad_since = viewer_client.get("/api/v1/monitoring/anomalies", {"since": "yesterday-ish"})
    unknown = viewer_client.get("/api/v1/monitoring/anomalies", {"detector": "nope"})

    assert [a["id"] for a in body["open"]] == [alert.pk]
    assert body["scores"] == [
        {
            "detector": "tickets-sold",
            "at": "2026-02-09T00:05:00Z",
            "observed": 5.0,
            "expected": 10.0,
            "lower": 8.0,
            "upper": 12.0,
            "score": -5.0,
            "anomalous": True,
        }
    ]
    assert len(everything["scores"]) == 4 and everything["truncated"] is True
    assert recent["scores"] == [] and len(recent["open"]) == 1
    for response, field in ((bad_limit, "limit"), (bad_since, "since"), (unknown, "detector")):
        assert response.status_code == 400
        assert list(response.json()["details"]) == [field]


def _fields() -> dict[str, Any]:
    return {
        "name": "Tickets sold",
        "slug": "tickets-sold",
        "expression": EXPRESSION,
        "seasonality": "both",
        "channels": ["slack"],
    }
