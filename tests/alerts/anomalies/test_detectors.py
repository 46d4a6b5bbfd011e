"""Detectors over stored rollups: history, daily fits, 10-minute scoring, alerts, forecasts."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import numpy as np
import pytest
import time_machine

from alerts.anomalies import History
from alerts.anomalies.series import history
from alerts.anomalies.services import (
    ANOMALY_RULE_SPEC,
    create_detector,
    fit_detector,
    score_detectors,
    update_detector,
)
from alerts.anomalies.tasks import fit_anomaly_models
from alerts.bootstrap.rules import _rule_fields
from alerts.language import parse
from alerts.models import Alert, AnomalyDetector, AnomalyScore, Notification, Rule
from tests.alerts.anomalies.generator import START, generate
from tests.alerts.anomalies.rows import EXPRESSION, write_counter
from tests.support.tsdb import free_port

pytestmark = pytest.mark.django_db

END = START + timedelta(weeks=5)  # the generator's series ends here (Monday 00:00)
DROP_START = END - timedelta(minutes=40)  # the last 40 minutes, less the last 10, at half
DROP_END = END - timedelta(minutes=10)


def _series(*, drop: bool, weeks: float = 5) -> History:
    synthetic = generate(1, inject=False)
    values = synthetic.history.values.copy()
    times = synthetic.history.times
    if drop:
        inside = (times >= int(DROP_START.timestamp())) & (times < int(DROP_END.timestamp()))
        values[inside] *= 0.5
    keep = times >= int((END - timedelta(weeks=weeks)).timestamp())
    return History(times[keep], values[keep])


@pytest.fixture
def anomaly_rule(db: Any) -> Rule:
    fields = _rule_fields(ANOMALY_RULE_SPEC)
    return Rule.objects.create(**fields)


def _detector(**fields: Any) -> AnomalyDetector:
    values: dict[str, Any] = {
        "name": "Tickets sold",
        "slug": "tickets-sold",
        "expression": EXPRESSION,
        "seasonality": "both",
        "direction": "both",
        "severity": "error",
        "channels": ["slack"],
    }
    values.update(fields)
    return create_detector(fields=values, user=None)


def test_the_history_of_a_detector_is_read_from_the_five_minute_rollups() -> None:
    written = _series(drop=False)
    write_counter(written, buckets_from=END)
    with time_machine.travel(END, tick=False):
        read = history(parse(EXPRESSION), start=END - timedelta(days=2), end=END)

    assert len(read.times) == 2 * 288
    expected = written.between(int((END - timedelta(days=2)).timestamp()), int(END.timestamp()))
    assert np.array_equal(read.times, expected.times)
    assert np.allclose(read.values, np.maximum(expected.values, 0.0))


def test_a_fit_stores_the_model_beside_the_detector() -> None:
    write_counter(_series(drop=False), buckets_from=END)
    detector = _detector()
    with time_machine.travel(END, tick=False):
        fit_detector(detector=detector, now=END)

    detector.refresh_from_db()
    assert detector.status == AnomalyDetector.Status.READY
    assert detector.fitted_version == detector.version
    assert detector.fitted_at == END
    model = detector.fitted_model()
    assert model is not None and len(model.profile) == 2016
    # The expected value at Monday 00:00 is the series' own level there, within a few percent.
    usual = float(model.expected(np.array([int(END.timestamp())]))[0])
    assert usual == pytest.approx(float(_series(drop=False).values[-288 * 7]), rel=0.15)


def test_a_detector_without_enough_history_reports_learning_and_scores_nothing(
    anomaly_rule: Rule,
) -> None:
    write_counter(_series(drop=False, weeks=2), buckets_from=END - timedelta(hours=2))
    detector = _detector()
    with time_machine.travel(END + timedelta(minutes=2), tick=False):
        run = score_detectors()

    detector.refresh_from_db()
    assert detector.status == AnomalyDetector.Status.LEARNING
    assert detector.status_message == "learning: 14.0 days of history, 21.0 days needed"
    assert run.fitted == 1 and run.scored == 0
    assert not AnomalyScore.objects.exists()


def test_an_anomaly_raises_an_alert_saying_expected_versus_observed_and_resolves_after(
    anomaly_rule: Rule, a_channel: Any
) -> None:
    write_counter(_series(drop=True), buckets_from=END - timedelta(hours=3))
    detector = _detector()

    with time_machine.travel(DROP_END + timedelta(minutes=1, seconds=5), tick=False):
        first = score_detectors()

    assert first.fitted == 1 and first.raised == 1
    alert = Alert.objects.get(detector=detector)
    assert alert.source == Alert.Source.ANOMALY
    assert alert.state == Alert.State.FIRING
    assert alert.severity == "error"
    assert alert.rule_name == "Tickets sold"
    assert alert.labels == {"detector": "tickets-sold"}
    assert "observed" in alert.summary and "expected" in alert.summary
    observed, expected = alert.details["observed"], alert.details["expected"]
    assert observed < alert.details["lower"] < expected
    assert observed == pytest.approx(0.5 * expected, rel=0.25)
    assert Notification.objects.filter(alert=alert, channel=a_channel, kind="firing").exists()
    flagged = AnomalyScore.objects.filter(detector=detector, anomalous=True)
    assert flagged.count() == 6  # the 30 minutes at half, every step flagged
    assert {score.at for score in flagged} == {
        DROP_START + timedelta(minutes=5 * i) for i in range(6)
    }

    with time_machine.travel(END + timedelta(minutes=1, seconds=5), tick=False):
        second = score_detectors()

    alert.refresh_from_db()
    assert second.resolved == 1 and second.points == 2
    assert alert.state == Alert.State.RESOLVED
    assert alert.events.filter(kind="resolved", details__reason="back inside the band").exists()


def test_a_step_is_scored_once_across_runs(anomaly_rule: Rule) -> None:
    write_counter(_series(drop=False), buckets_from=END - timedelta(hours=3))
    detector = _detector()
    moment = END - timedelta(minutes=20) + timedelta(minutes=1, seconds=5)
    with time_machine.travel(moment, tick=False):
        score_detectors()
        again = score_detectors()

    assert again.points == 0
    assert AnomalyScore.objects.filter(detector=detector).count() == 12  # the hour caught up
    detector.refresh_from_db()
    assert detector.scored_until == END - timedelta(minutes=20)


def test_the_daily_fit_refits_once_a_day_and_an_edit_refits_at_the_next_run(
    anomaly_rule: Rule,
) -> None:
    write_counter(_series(drop=False), buckets_from=END)
    detector = _detector()
    with time_machine.travel(END, tick=False):
        assert fit_anomaly_models() == "1 detectors fitted"
        assert fit_anomaly_models() == "0 detectors fitted"  # the same day: nothing
        assert score_detectors().fitted == 0
        update_detector(detector=detector, changes={"sensitivity": 3.0}, user=None)
        assert score_detectors().fitted == 1
    with time_machine.travel(END + timedelta(days=1), tick=False):
        assert fit_anomaly_models() == "1 detectors fitted"


def test_disabling_a_detector_resolves_its_open_anomaly(anomaly_rule: Rule) -> None:
    write_counter(_series(drop=True), buckets_from=END - timedelta(hours=3))
    detector = _detector()
    with time_machine.travel(DROP_END + timedelta(minutes=1, seconds=5), tick=False):
        score_detectors()
        update_detector(detector=detector, changes={"enabled": False}, user=None)

    alert = Alert.objects.get(detector=detector)
    assert alert.state == Alert.State.RESOLVED
    assert alert.events.get(kind="resolved").details["reason"] == "detector disabled"


def test_a_detector_whose_expression_gives_several_series_reports_the_error(
    anomaly_rule: Rule,
) -> None:
    write_counter(_series(drop=False), buckets_from=END)
    write_counter(_series(drop=False), buckets_from=END, labels={"service": "order"})
    detector = _detector(expression="increase(tickets_sold_total[5m])")
    with time_machine.travel(END, tick=False):
        assert fit_detector(detector=detector, now=END) is None

    detector.refresh_from_db()
    assert detector.status == AnomalyDetector.Status.ERROR
    assert "gives 2 series" in detector.last_error
    assert detector.fitted_model() is None


def test_bootstrap_seeds_the_five_detectors_once(settings: Any) -> None:
    from alerts.bootstrap import seed

    settings.TIME_ZONE = "Europe/Paris"
    lines: list[str] = []
    seed(lines.append)
    assert sorted(AnomalyDetector.objects.values_list("slug", flat=True)) == [
        "api-p95-latency",
        "payment-failure-ratio",
        "refund-ratio",
        "revenue-per-hour",
        "tickets-sold-per-hour",
    ]
    assert Rule.objects.get(slug="anomaly").builtin
    AnomalyDetector.objects.get(slug="refund-ratio").delete()  # an admin's choice stands
    seed(lines.append)

    assert AnomalyDetector.objects.count() == 4
    assert [line for line in lines if line.startswith("anomaly detectors")] == [
        "anomaly detectors: 5 created",
        "anomaly detectors: 0 created",
    ]
    tickets = AnomalyDetector.objects.get(slug="tickets-sold-per-hour")
    assert (tickets.seasonality, tickets.direction, tickets.timezone) == (
        "both",
        "both",
        "Europe/Paris",
    )
    # Every seeded expression passes the checks the API applies.
    from alerts.anomalies.validation import detector_problems

    for detector in AnomalyDetector.objects.all():
        values = {f.name: getattr(detector, f.name) for f in AnomalyDetector._meta.fields}
        assert detector_problems(values) == {}, detector.slug


def test_a_fit_while_the_metrics_backend_is_down_keeps_the_model(settings: Any) -> None:
    """Issue #20: a backend outage is not the detector's fault: its model stays for scoring."""
    write_counter(_series(drop=False), buckets_from=END)
    detector = _detector()
    with time_machine.travel(END, tick=False):
        fit_detector(detector=detector, now=END)
    settings.METRICS_BACKEND = "prometheus"
    settings.METRICS_BACKEND_URL = f"http://127.0.0.1:{free_port()}"
    later = END + timedelta(days=1)
    with time_machine.travel(later, tick=False):
        assert fit_detector(detector=detector, now=later) is None

    detector.refresh_from_db()
    assert detector.fitted_model() is not None and detector.fitted_at == END
    assert detector.last_error.startswith("fit: metrics backend: ")
    assert "unreachable" in detector.last_error
