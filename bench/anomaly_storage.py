"""The PostgreSQL half of bench/anomaly.py: 100 detectors over stored rollups (issue #16).

Loads 100 counter series (``tickets_sold_total{service="svcNN"}``) with 5 weeks of 5-minute
rollups each (a daily and a weekly cycle with noise, written by ``generate_series`` in SQL) and
3 hours of minute buckets, and 100 detectors over them (25 of each seasonality,
``sum(increase(tickets_sold_total{service="svcNN"}[15m])) * 4``). Measured: one daily fit of
all 100 (``fit_stale``: each history read from the rollups, one query per detector, fitted and
stored), and one 10-minute scoring run (``score_detectors``: 2 new steps per detector evaluated
from the buckets, scored, stored, alerts reconciled), median of repeated runs. Reference in the
same run: the rule language's evaluator alone over the same 100 expressions at the two steps
(the floor of any scoring run).
"""

from __future__ import annotations

import os
import statistics
import time
from datetime import UTC, datetime, timedelta
from typing import Any

DETECTORS = 100
SCORING_RUNS = 5
SEASONALITIES = ("none", "daily", "weekly", "both")
# The evaluator reads minute buckets only within their retention of the real clock: "now" is
# the real clock, floored to a step, plus the settle margin.
STEP = 300


def ensure_database(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    admin_url = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')


def setup(url: str) -> None:
    ensure_database(url)
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "monitoring_site.settings")
    os.environ.setdefault("TESTING", "true")
    os.environ.setdefault("LOG_LEVEL", "ERROR")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def load(end: datetime) -> None:
    """Series, rollups, buckets and detectors (everything of a previous run truncated)."""
    from django.db import connection

    from alerts.anomalies.services import ANOMALY_RULE_SPEC, create_detector
    from alerts.bootstrap.rules import _rule_fields
    from alerts.models import Rule
    from metrics_app.models import Series

    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE alerts_anomalyscore, alerts_anomalydetector, alerts_alertevent, "
            "alerts_alert, alerts_rule, alerts_historicalrule, alerts_alertfingerprint, "
            "metrics_app_series CASCADE"
        )
    start = end - timedelta(weeks=5)
    for n in range(DETECTORS):
        labels = {"service": f"svc{n:02d}"}
        series = Series.objects.create(
            name="tickets_sold_total",
            family="tickets_sold_total",
            labels=labels,
            labels_key=f'service="svc{n:02d}"',
            kind="counter",
            value=0.0,
            value_at=end,
            created_at=start,
            updated_at=end,
        )
        _rows(series.pk, start=start, end=end)
    Rule.objects.create(**_rule_fields(ANOMALY_RULE_SPEC))
    for n in range(DETECTORS):
        create_detector(
            fields={
                "name": f"Detector {n:03d}",
                "slug": f"detector-{n:03d}",
                "expression": (
                    f'sum(increase(tickets_sold_total{{service="svc{n:02d}"}}[15m])) * 4'
                ),
                "seasonality": SEASONALITIES[n % len(SEASONALITIES)],
            },
            user=None,
        )


# 5-minute increases around 100 with daily and weekly cycles of 30 % and 5 % noise; the minute
# buckets of the last 3 hours split each step's increase over its minutes.
_VALUE = (
    "100 * (1 + 0.3 * cos(2 * pi() * (extract(epoch from t) - 64800) / 86400)"
    " + 0.3 * cos(2 * pi() * (extract(epoch from t) - 475200) / 604800))"
    " + 5 * (random() + random() + random() + random() - 2)"
)


def _rows(series_id: int, *, start: datetime, end: datetime) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO metrics_app_rollup "  # noqa: S608 (a constant; the values are parameters)
            "(series_id, resolution, start, count, sum, min, max, last, last_at, exported) "
            f"SELECT %s, 300, t, 5, v, v / 5, v / 5, v / 5, t + interval '4 minutes', true "
            f"FROM (SELECT t, greatest({_VALUE}, 0) AS v FROM generate_series("
            "%s::timestamptz, %s::timestamptz - interval '5 minutes', interval '5 minutes') AS t"
            ") AS s",
            [series_id, start, end],
        )
        cursor.execute(
            "INSERT INTO metrics_app_bucket "
            "(series_id, start, count, sum, min, max, last, last_at) "
            "SELECT series_id, start + m * interval '1 minute', 1, sum / 5, sum / 5, sum / 5, "
            "sum / 5, start + m * interval '1 minute' "
            "FROM metrics_app_rollup CROSS JOIN generate_series(0, 4) AS m "
            "WHERE series_id = %s AND resolution = 300 AND start >= %s",
            [series_id, end - timedelta(hours=3)],
        )


def measure(end: datetime) -> dict[str, Any]:
    """The daily fit of all detectors (once) and the median scoring run."""
    import time_machine
    from django.conf import settings

    from alerts.anomalies.series import instant_of
    from alerts.anomalies.services import fit_stale, score_detectors
    from alerts.language import evaluate_many, parse
    from alerts.models import AnomalyDetector, AnomalyScore

    now = end + timedelta(seconds=settings.ANOMALY_SETTLE_SECONDS + 5)
    with time_machine.travel(now, tick=True):
        started = time.perf_counter()
        fitted = fit_stale(now=now, older_than=timedelta(0), limit=None, budget=10_000)
        fit_seconds = time.perf_counter() - started
    ready = AnomalyDetector.objects.filter(status="ready").count()
    steps = [end - timedelta(minutes=10), end - timedelta(minutes=5)]
    scoring, flagged = [], 0
    for _ in range(SCORING_RUNS):
        AnomalyScore.objects.all().delete()
        AnomalyDetector.objects.update(scored_until=steps[0])
        with time_machine.travel(now, tick=True):
            started = time.perf_counter()
            run = score_detectors(now=now)
            scoring.append(time.perf_counter() - started)
        assert run.points == 2 * ready, run
        flagged = run.flagged
    trees = [parse(d.expression) for d in AnomalyDetector.objects.all()]
    reference = []
    for _ in range(SCORING_RUNS):
        started = time.perf_counter()
        for step in steps:
            evaluate_many(trees, at=instant_of(step))
        reference.append(time.perf_counter() - started)
    return {
        "fitted": fitted,
        "ready": ready,
        "fit_s": fit_seconds,
        "score_s": statistics.median(scoring),
        "reference_s": statistics.median(reference),
        "flagged": flagged,
    }


def run(url: str) -> dict[str, Any]:
    setup(url)
    epoch = int(datetime.now(tz=UTC).timestamp()) // STEP * STEP
    end = datetime.fromtimestamp(epoch, UTC)
    load(end)
    return measure(end)
