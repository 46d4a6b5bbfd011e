"""History backfill: past weeks of the simulated traffic, written through the storage layer.

The ingest API refuses old timestamps (rightly), so history is folded into batches directly
(:func:`metrics_app.services.store_batch`) and rolled up at once, so that ``offset 1w`` rules,
uptime figures, anomaly detection and reports have data from the first minute. Older history is
written at coarser steps (``STEPS``), which keeps 35 days to a few hundred thousand bucket rows.
Uptime history is one ``UptimeHour`` row per simulated service and hour.

History is written once: a second run starts after the newest stored sample of the simulator,
so it only fills the gap since the last run.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction

from demo.platform import health_answer
from demo.scenario import SIMULATED, Incident, Scenario
from demo.traffic import Traffic, bucket_counts, effects_at, interval_traffic
from health.models import Service, UptimeHour, hour_of
from health.probes.base import ProbeResult
from health.services import record_round
from metrics_app.aggregation import floor_to, recompute_rollups
from metrics_app.catalogue import HISTOGRAM, get_metric
from metrics_app.ingest import Batch, Sample, add_histogram_counts, add_sample
from metrics_app.models import Bucket
from metrics_app.services import store_batch

logger = logging.getLogger(__name__)
Log = Callable[[str], None]

# Step by age: hourly beyond a week and a day, every 15 minutes within it (`offset 1w` windows
# read several points), every minute in the last hour (the windows of the first evaluations).
STEPS = (
    (timedelta(hours=1), timedelta(minutes=1)),
    (timedelta(days=8), timedelta(minutes=15)),
    (timedelta.max, timedelta(hours=1)),
)
BATCH_ROWS = 5000  # minute rows a write carries
ROLLUP_CHUNK = timedelta(days=1)
MARKER_METRIC = "tickets_sold_total"
SERVICE = "simulator"


@dataclass(frozen=True)
class HistoryReport:
    start: datetime
    end: datetime
    steps: int
    samples: int
    uptime_hours: int


def history_start(*, span: timedelta, until: datetime) -> datetime:
    """Where the backfill begins: ``span`` before ``until``, or after what is already stored."""
    start = floor_to(until - span, 3600)
    newest = (
        Bucket.objects.filter(series__name=MARKER_METRIC)
        .order_by("-start")
        .values_list("start", flat=True)
        .first()
    )
    if newest is not None and newest + timedelta(minutes=1) > start:
        start = newest + timedelta(minutes=1)
    return start


def steps(start: datetime, end: datetime, origin: datetime) -> Iterator[tuple[datetime, float]]:
    """(moment, seconds it stands for) from ``start`` to ``end``, coarser the older (``STEPS``)."""
    at = start
    while at < end:
        age = origin - at
        step = next(step for limit, step in STEPS if age <= limit)
        length = min(step, end - at)
        yield at, length.total_seconds()
        at += length


def backfill(
    *,
    start: datetime,
    end: datetime,
    scenario: Scenario | None = None,
    started_at: datetime | None = None,
    seed: int = 0,
    log: Log = lambda line: None,
    stop: threading.Event | None = None,
) -> HistoryReport:
    """Write the simulated traffic from ``start`` to ``end``, roll it up, and its uptime hours.

    ``scenario`` incidents with a negative start (relative to ``started_at``, default ``end``)
    shape the history they fall into. ``stop`` ends the backfill early (what is written stays).
    """
    origin = started_at or end
    incidents = scenario.incidents if scenario else ()
    rng = random.Random(seed)
    batch, count, samples = Batch(service=SERVICE), 0, 0
    for at, seconds in steps(start, end, origin):
        if stop is not None and stop.is_set():
            end = at
            break
        offset = (at - origin).total_seconds()
        traffic = interval_traffic(at, seconds, effects_at(incidents, offset), rng)
        _fold(batch, traffic, at)
        count += 1
        if len(batch.minutes) >= BATCH_ROWS:
            samples += store_batch(batch=batch, now=origin)
            batch = Batch(service=SERVICE)
    samples += store_batch(batch=batch, now=origin)
    if count:
        _roll_up(start, end)
    hours = backfill_uptime(start=start, end=end, rng=rng)
    log(
        f"history: {count} intervals from {start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC, "
        f"{samples} samples, {hours} uptime hours"
    )
    return HistoryReport(start, end, count, samples, hours)


def _roll_up(start: datetime, end: datetime) -> None:
    """Roll up a day at a time: each a short transaction, so live ingest never waits long."""
    at = start
    while at < end:
        upto = min(at + ROLLUP_CHUNK, end)
        recompute_rollups(start=at, end=upto)
        at = upto


def _fold(batch: Batch, traffic: Traffic, at: datetime) -> None:
    for source in (traffic.counters, traffic.gauges):
        for (metric, labels), value in source.items():
            spec = get_metric(metric)
            assert spec is not None, metric  # the traffic model uses catalogue metrics only
            add_sample(batch, Sample(spec, dict(labels), (float(value),), at))
    for (metric, labels), histogram in traffic.histograms.items():
        spec = get_metric(metric)
        assert spec is not None and spec.type == HISTOGRAM, metric
        counts = bucket_counts(histogram, spec.buckets)
        total = histogram.count * histogram.latency.mean()
        add_histogram_counts(batch, spec, dict(labels), at, counts=counts, total=total)


@transaction.atomic
def backfill_uptime(*, start: datetime, end: datetime, rng: random.Random) -> int:
    """Hourly uptime of the platform's services over the history (rare short outages)."""
    services = list(Service.objects.filter(kind="http").exclude(slug="monitoring"))
    rows: list[UptimeHour] = []
    hour = hour_of(start)
    while hour + timedelta(hours=1) <= end:
        for service in services:
            down = 1 if rng.random() < 0.002 else 0
            rows.append(
                UptimeHour(
                    service=service,
                    hour=hour,
                    checks=60,
                    up=60 - down,
                    down=down,
                    latency_sum_ms=60 * 12.0,
                    latency_count=60,
                )
            )
        hour += timedelta(hours=1)
    UptimeHour.objects.bulk_create(rows, batch_size=2000, ignore_conflicts=True)
    return len(rows)


def replay_health(
    *, start: datetime, end: datetime, incidents: tuple[Incident, ...], rng: random.Random
) -> int:
    """Health rounds once a minute from ``start`` to ``end``, as the simulated services answered.

    Recorded through :func:`health.services.record_round`, so states, thresholds and the
    hand-off to the alerts are those of live rounds: a service an incident took down before the
    start is down (and alerted on) when the simulator starts. The rounds replayed.
    """
    services = {
        service.pk: service.slug
        for service in Service.objects.filter(slug__in=SIMULATED, kind="http", enabled=True)
    }
    at, rounds = start.replace(second=0, microsecond=0) + timedelta(minutes=1), 0
    while at < end and services:
        offset = (at - end).total_seconds()
        results = {pk: _probe(slug, incidents, offset, rng) for pk, slug in services.items()}
        record_round(results=results, checked_at=at)
        at, rounds = at + timedelta(minutes=1), rounds + 1
    return rounds


def _probe(
    slug: str, incidents: tuple[Incident, ...], offset: float, rng: random.Random
) -> ProbeResult:
    answer = health_answer(slug, incidents, offset)
    latency = round(answer.delay * 1000 + rng.uniform(2, 15), 2)
    if answer.status != 200:
        return ProbeResult.down(
            f"HTTP {answer.status} (expected 200)", status_code=answer.status, latency_ms=latency
        )
    word = str(answer.body.get("status"))
    if word != "ok":
        return ProbeResult("degraded", latency, 200, f"service reports status {word!r}")
    return ProbeResult("up", latency, 200)
