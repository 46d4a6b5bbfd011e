"""The traffic model: what the platform's services push for an interval, with a daily and weekly
shape, noise, and the effects of the incidents in progress (docs/demo.md, "Traffic").

:func:`interval_traffic` is pure given its random generator: counters (increments), gauges
(values) and histograms (a count and a log-normal latency distribution per label set). The live
simulator turns histograms into observations for the ingest API; the history backfill turns them
into bucket counts (:func:`bucket_counts`), so a week of history costs no more than its buckets.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from demo.scenario import Incident

Labels = tuple[tuple[str, str], ...]

# Rates per minute at the busiest hour of an ordinary day (shape 1.0).
BASE_USERS = 2500.0
PAYMENTS = 20.0  # payment attempts (orders of two tickets)
RESALES = 6.0
LISTINGS = 8.0
REQUESTS = 600.0
QUERIES = 300.0
PRICE_CENTS = 4500.0
RESALE_CENTS = 5200.0
FEE_SHARE = 0.05
SURGE_BUYING = 2.0
NORMAL = {"payment_failure": 0.02, "refund": 0.015, "solana_failure": 0.01, "error": 0.005}
REFUND_REASONS = (("customer_request", 0.7), ("event_cancelled", 0.2), ("fraud", 0.1))
ERROR_TYPES = (("server", 0.5), ("timeout", 0.2), ("validation", 0.3))
ROUTES = (
    ("GET", "/events", "200", 0.35),
    ("GET", "/tickets", "200", 0.25),
    ("POST", "/orders", "201", 0.15),
    ("POST", "/payments", "201", 0.1),
    ("GET", "/search", "200", 0.15),
)
TABLES = (
    ("ticket", "select", "tickets", 0.5),
    ("order", "insert", "orders", 0.3),
    ("payment", "update", "payments", 0.2),
)
HTTP, GATEWAY = "http_request_duration_ms", "api-gateway"
# Weekday factors, Monday first: weekends sell the most tickets.
WEEKLY = (0.85, 0.85, 0.9, 1.0, 1.25, 1.35, 1.05)
WEEKLY_MEAN = sum(WEEKLY) / len(WEEKLY)


def daily(at: datetime) -> float:
    """0.3 at 04:00 UTC, rising to 1.0 at 16:00 UTC."""
    hour = at.hour + at.minute / 60 + at.second / 3600
    return 0.3 + 0.7 * (1 - math.cos(2 * math.pi * (hour - 4) / 24)) / 2


def shape(at: datetime) -> float:
    """The traffic level at ``at`` relative to an ordinary day's busiest hour."""
    return daily(at) * WEEKLY[at.weekday()]


@dataclass(frozen=True)
class Latency:
    """A log-normal latency distribution: its median (ms) and spread."""

    median: float
    sigma: float

    def mean(self) -> float:
        return self.median * math.exp(self.sigma**2 / 2)

    def cdf(self, bound: float) -> float:
        if bound <= 0:
            return 0.0
        return 0.5 * (1 + math.erf(math.log(bound / self.median) / (self.sigma * math.sqrt(2))))

    def draw(self, rng: random.Random) -> float:
        return round(rng.lognormvariate(math.log(self.median), self.sigma), 1)


@dataclass
class Histogram:
    count: int
    latency: Latency


@dataclass
class Traffic:
    """One interval's samples: counter increments, gauge values, histogram observations."""

    counters: dict[tuple[str, Labels], float] = field(default_factory=dict)
    gauges: dict[tuple[str, Labels], float] = field(default_factory=dict)
    histograms: dict[tuple[str, Labels], Histogram] = field(default_factory=dict)

    def count(self, metric: str, value: float, **labels: str) -> None:
        if value > 0:
            key = (metric, _labels(labels))
            self.counters[key] = self.counters.get(key, 0.0) + value

    def gauge(self, metric: str, value: float, **labels: str) -> None:
        self.gauges[(metric, _labels(labels))] = round(value, 3)

    def observe(self, metric: str, count: int, latency: Latency, **labels: str) -> None:
        if count > 0:
            self.histograms[(metric, _labels(labels))] = Histogram(count, latency)

    def total(self, metric: str) -> float:
        """The sum of a counter's increments over its label sets (tests, the history summary)."""
        return sum(value for (name, _), value in self.counters.items() if name == metric)

    def payload(self, rng: random.Random, at: float | None = None) -> list[dict[str, object]]:
        """The samples as the ingest API takes them (histograms as drawn observations)."""
        out: list[dict[str, object]] = []
        extra = {} if at is None else {"timestamp": at}
        for (metric, labels), value in self.counters.items():
            out.append({"metric": metric, "labels": dict(labels), "value": value, **extra})
        for (metric, labels), value in self.gauges.items():
            out.append({"metric": metric, "labels": dict(labels), "value": value, **extra})
        for (metric, labels), histogram in self.histograms.items():
            values = [histogram.latency.draw(rng) for _ in range(histogram.count)]
            out.append({"metric": metric, "labels": dict(labels), "observations": values, **extra})
        return out


def _labels(labels: dict[str, str]) -> Labels:
    return tuple(sorted(labels.items()))


def poisson(rng: random.Random, mean: float) -> int:
    """A Poisson count (normal approximation above 30)."""
    if mean <= 0:
        return 0
    if mean > 30:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


@dataclass
class Effects:
    """What the incidents in progress change, at one moment."""

    payment_failure: float = NORMAL["payment_failure"]
    refund: float = NORMAL["refund"]
    solana_failure: float = NORMAL["solana_failure"]
    error: float = NORMAL["error"]
    revenue_factor: float = 1.0
    users: float | None = None
    db_latency_ms: float | None = None
    queues: dict[str, float] = field(default_factory=dict)


def effects_at(incidents: Iterable[Incident], offset: float) -> Effects:
    """The combined effect of the incidents active ``offset`` seconds after the start."""
    effects = Effects()
    for incident in incidents:
        if not incident.active(offset):
            continue
        p, kind = incident.params, incident.kind
        if kind == "payment_failures":
            effects.payment_failure = max(effects.payment_failure, p["rate"])
        elif kind == "refund_wave":
            effects.refund = max(effects.refund, p["rate"])
        elif kind == "solana_failures":
            effects.solana_failure = max(effects.solana_failure, p["rate"])
        elif kind == "error_spike":
            effects.error = max(effects.error, p["rate"])
        elif kind == "revenue_drop":
            effects.revenue_factor = min(effects.revenue_factor, p["factor"])
        elif kind == "traffic_surge":
            effects.users = max(effects.users or 0.0, p["users"])
        elif kind == "database_slow":
            effects.db_latency_ms = max(effects.db_latency_ms or 0.0, p["latency_ms"])
        elif kind == "queue_backup":
            # The queue fills over its first minute, as a stalled consumer would let it.
            ramp = min(1.0, (offset - incident.start) / 60)
            effects.queues[p["queue"]] = max(effects.queues.get(p["queue"], 0.0), p["size"] * ramp)
    return effects


def interval_traffic(at: datetime, seconds: float, effects: Effects, rng: random.Random) -> Traffic:
    """What the platform pushes for the ``seconds`` ending at ``at``."""
    level = shape(at)
    users = BASE_USERS * level
    browsing = 1.0
    if effects.users is not None and effects.users > users:
        browsing, users = effects.users / users, effects.users
    minutes = seconds / 60
    noise = rng.lognormvariate(0, 0.05)
    scale = level * minutes * noise
    traffic = Traffic()
    # A surge of users browses in full but buys at most twice as much (an on-sale sells out).
    _business(traffic, scale * min(browsing, SURGE_BUYING), effects, rng)
    _requests(traffic, scale * browsing, effects, rng)
    traffic.gauge("active_users", users * noise, service="api-gateway")
    traffic.gauge("marketplace_active_listings", 1500 * (0.8 + 0.2 * level), service="marketplace")
    hit_rate = min(0.99, 0.93 * noise)
    traffic.gauge("cache_hit_rate", hit_rate, service="api-gateway", cache="sessions")
    normal_queues = {"mint": 5 + 20 * level, "email": 10 * level, "webhook": 3.0}
    for queue, size in normal_queues.items():
        value = max(size * noise, effects.queues.get(queue, 0.0))
        traffic.gauge("queue_size", round(value), service="queue", queue=queue)
    return traffic


def _business(traffic: Traffic, scale: float, effects: Effects, rng: random.Random) -> None:
    attempts = poisson(rng, PAYMENTS * scale)
    failed = sum(1 for _ in range(attempts) if rng.random() < effects.payment_failure)
    paid = attempts - failed
    tickets = 2 * paid
    resold = poisson(rng, RESALES * scale)
    traffic.count("payment_success_total", paid, service="payment")
    traffic.count("payment_failure_total", failed, service="payment")
    traffic.observe("payment_processing_duration_ms", paid, Latency(350, 0.5), service="payment")
    traffic.count("tickets_sold_total", tickets, service="ticket")
    traffic.count("tickets_listed_total", poisson(rng, LISTINGS * scale), service="marketplace")
    primary = tickets * PRICE_CENTS * effects.revenue_factor
    resale = resold * RESALE_CENTS * effects.revenue_factor
    traffic.count("revenue_total_cents", round(primary), service="payment", type="primary")
    traffic.count("revenue_total_cents", round(resale), service="payment", type="resale")
    traffic.count(
        "revenue_total_cents", round((primary + resale) * FEE_SHARE), service="payment", type="fees"
    )
    # A refund wave is measured against the tickets the platform normally sells.
    refunds = poisson(rng, effects.refund * 2 * PAYMENTS * scale)
    for reason, share in REFUND_REASONS:
        traffic.count(
            "refunds_processed_total", round(refunds * share), service="payment", reason=reason
        )
    traffic.count("nft_minted_total", tickets, service="minting")
    traffic.count("nft_transferred_total", resold, service="transfer")
    transactions = tickets + resold
    failed_tx = sum(1 for _ in range(transactions) if rng.random() < effects.solana_failure)
    traffic.observe(
        "solana_transaction_time_ms",
        transactions - failed_tx,
        Latency(800, 0.4),
        service="blockchain",
        status="success",
    )
    traffic.observe(
        "solana_transaction_time_ms",
        failed_tx,
        Latency(30000, 0.2),
        service="blockchain",
        status="failed",
    )


def _requests(traffic: Traffic, scale: float, effects: Effects, rng: random.Random) -> None:
    requests = poisson(rng, REQUESTS * scale)
    errors = sum(1 for _ in range(requests) if rng.random() < effects.error)
    for method, route, status, share in ROUTES:
        count = round((requests - errors) * share)
        route_labels = {"method": method, "route": route, "status_code": status}
        traffic.observe(HTTP, count, Latency(45, 0.6), service=GATEWAY, **route_labels)
    error_labels = {"method": "POST", "route": "/orders", "status_code": "500"}
    traffic.observe(HTTP, errors, Latency(900, 0.8), service=GATEWAY, **error_labels)
    for kind, share in ERROR_TYPES:
        traffic.count("errors_total", round(errors * share), service="api-gateway", type=kind)
    queries = poisson(rng, QUERIES * scale)
    latency = Latency(effects.db_latency_ms, 0.3) if effects.db_latency_ms else Latency(8, 0.8)
    for service, operation, table, share in TABLES:
        traffic.observe(
            "db_query_duration_ms",
            round(queries * share),
            latency,
            service=service,
            operation=operation,
            table=table,
        )


def bucket_counts(histogram: Histogram, bounds: tuple[float, ...]) -> list[int]:
    """Observations per bucket (the last is above every bound), from the distribution."""
    counts: list[int] = []
    previous = 0.0
    for bound in bounds:
        cumulative = histogram.latency.cdf(bound)
        counts.append(round(histogram.count * cumulative) - round(histogram.count * previous))
        previous = cumulative
    counts.append(histogram.count - sum(counts))
    return counts
