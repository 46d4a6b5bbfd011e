"""One set of samples, written both to the embedded store and to a Prometheus-compatible database.

Thirty minutes of pushes every 15 s (at 7, 22, 37 and 52 s past each minute) for three services,
ending just before ``at``: ``at`` is half a second before a minute boundary, where the embedded
store's minute-aligned windows and PromQL's exact ``(at - w, at]`` windows hold the same samples.
Counters are pushed here as increments and arrive there as cumulative values, as the ingest
forwarding does.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from metrics_app.catalogue import COUNTER, MetricSpec, get_metric
from metrics_app.ingest import Sample, aggregate
from metrics_app.services import store_batch
from tests.support.tsdb import RemoteSeries

SERVICES = ("alpha", "beta", "gamma")
TICKETS_PER_PUSH = {"alpha": 1.0, "beta": 2.0, "gamma": 5.0}
ERRORS_PER_PUSH = {"alpha": 0.0, "beta": 1.0, "gamma": 0.0}
LATENCIES = {"alpha": (20.0, 40.0, 60.0), "beta": (30.0, 90.0, 700.0), "gamma": (900.0, 1500.0)}
HISTORY = timedelta(minutes=30)
# Values read through a backend agree with the embedded store's within this (relative): the
# instant sits where minute-aligned and exact windows hold the same samples, so what is left is
# Prometheus' extrapolation of rate/increase to the window's edges and summation order.
TOLERANCE = 0.02

# (slug, expression, operator, threshold): each kind of leaf, and rules that hold for some
# services only, for none, and over no data at all.
RULES: list[tuple[str, str, str, float]] = [
    ("rate", "sum by (service) (rate(tickets_sold_total[5m]))", ">", 0.1),
    ("increase", "increase(tickets_sold_total[10m])", ">", 50),
    ("max-over-time", "max_over_time(queue_size[10m])", ">", 150),
    ("avg-over-time", "avg_over_time(queue_size[5m])", "<", 60),
    ("min-over-time", "min_over_time(queue_size[5m])", ">", 45),
    ("last-over-time", "last_over_time(queue_size[5m])", ">", 100),
    ("count-over-time", "count_over_time(queue_size[5m])", ">=", 19),
    ("gauge", "queue_size", ">", 40),
    ("counter-total", "tickets_sold_total", ">", 200),
    (
        "p90",
        "histogram_quantile(0.9, sum by (le, service) (rate(http_request_duration_ms_bucket[5m])))",
        ">",
        500,
    ),
    (
        "error-ratio",
        'sum by (service) (increase(errors_total{type="timeout"}[5m])) / '
        "sum by (service) (increase(tickets_sold_total[5m])) * 100",
        ">",
        20,
    ),
    ("offset", "sum(increase(tickets_sold_total[5m] offset 10m))", ">", 100),
    ("regex", 'sum(rate(tickets_sold_total{service=~"al.*|gam.*"}[5m]))', ">", 0.3),
    ("never", "max_over_time(queue_size[5m])", ">", 100000),
    ("no-data", "active_users", ">", 0),
]
# RULES read 16 distinct leaves (function, selector, window, offset) in 11 groups (selector,
# window, offset): one cycle sends one query per group.
LEAVES = 16
GROUPS = 11


def instant_before_minute(now: datetime) -> datetime:
    return now.replace(second=0, microsecond=0) - timedelta(milliseconds=500)


def push_times(at: datetime) -> list[datetime]:
    first = at.replace(second=0, microsecond=0) - HISTORY
    times = []
    minute = first
    while minute < at:
        times += [minute + timedelta(seconds=s) for s in (7, 22, 37, 52)]
        minute += timedelta(minutes=1)
    return [t for t in times if t <= at]


def queue_value(service: str, index: int) -> float:
    if service == "alpha":
        return 100.0 + 2.0 * index  # climbs past 150 within the last 10 minutes
    if service == "beta":
        return 50.0
    return 40.0 + (index % 4) * 5.0  # 40, 45, 50, 55, ...


def spec(name: str) -> MetricSpec:
    found = get_metric(name)
    assert found is not None, name
    return found


def samples_at(moment: datetime, index: int) -> list[Sample]:
    out = []
    for service in SERVICES:
        labels = {"service": service}
        out += [
            Sample(spec("tickets_sold_total"), labels, (TICKETS_PER_PUSH[service],), moment),
            Sample(
                spec("errors_total"),
                {**labels, "type": "timeout"},
                (ERRORS_PER_PUSH[service],),
                moment,
            ),
            Sample(
                spec("queue_size"),
                {**labels, "queue": "orders"},
                (queue_value(service, index),),
                moment,
            ),
            Sample(spec("http_request_duration_ms"), labels, LATENCIES[service], moment),
        ]
    return out


@dataclass
class Scenario:
    at: datetime
    remote: list[RemoteSeries] = field(default_factory=list)
    pushes: list[list[Sample]] = field(default_factory=list)

    def store_embedded(self) -> None:
        """Write every push to the embedded store, as the ingest API does."""
        for samples in self.pushes:
            store_batch(batch=aggregate(samples), now=self.at)


def build(at: datetime | None = None) -> Scenario:
    """The pushes, and the same data as cumulative series for a time-series database."""
    at = at or instant_before_minute(datetime.now(UTC))
    scenario = Scenario(at=at)
    totals: dict[tuple[str, str], float] = defaultdict(float)
    series: dict[tuple[str, str], RemoteSeries] = {}
    for index, moment in enumerate(push_times(at)):
        samples = samples_at(moment, index)
        scenario.pushes.append(samples)
        stamp = int(moment.timestamp() * 1000)
        for key, write in aggregate(samples).series.items():
            value = write.value
            if write.kind == COUNTER:
                totals[key] += write.value
                value = totals[key]
            remote = series.setdefault(key, RemoteSeries(write.name, dict(write.labels), []))
            remote.points.append((stamp, value))
    scenario.remote = list(series.values())
    return scenario
