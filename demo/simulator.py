"""The live simulator: traffic pushed through the ingest API every few seconds, the simulated
services' health, and the registry pointed at them."""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TextIO

import requests
from django.utils import timezone

from demo.platform import SimulatedPlatform
from demo.scenario import Incident, Scenario
from demo.traffic import effects_at, interval_traffic
from health.models import Service
from health.services import update_service

Out = Callable[[str], None]
INGEST_PATH = "/api/v1/metrics/ingest"


@dataclass
class PushCounts:
    """What became of the samples pushed: accepted, refused by the API, or never delivered."""

    requests: int = 0
    accepted: int = 0
    refused: int = 0
    undelivered: int = 0
    problems: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        return (
            f"{self.requests} pushes: {self.accepted} samples accepted, {self.refused} refused "
            f"by the ingest API, {self.undelivered} not delivered"
        )


class Pusher:
    """POSTs batches to the ingest API with an ingest token; counts and prints every refusal.

    With ``record`` every batch is also written there as one JSON line: when it was sent and
    answered (Unix time), what became of it (accepted, refused, undelivered) and its samples as
    sent. It is the simulator's own account of its traffic, against which a test checks what the
    service made of it (docs/demo.md, "Recording the traffic").
    """

    def __init__(
        self,
        *,
        base_url: str,
        token: str,
        out: Out,
        timeout: float = 15.0,
        record: TextIO | None = None,
    ) -> None:
        self.url = base_url.rstrip("/") + INGEST_PATH
        self.session = requests.Session()
        self.session.trust_env = False  # the monitor is on loopback: never through a proxy
        self.session.headers.update(
            {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        )
        self.out = out
        self.timeout = timeout
        self.record = record
        self.counts = PushCounts()

    def push(self, samples: list[dict[str, Any]]) -> None:
        if not samples:
            return
        self.counts.requests += 1
        sent_at = time.time()
        outcome = self._post(samples)
        if self.record is not None:
            line = {"sent_at": sent_at, "answered_at": time.time(), "outcome": outcome}
            self.record.write(json.dumps({**line, "samples": samples}) + "\n")
            self.record.flush()

    def _post(self, samples: list[dict[str, Any]]) -> str:
        try:
            response = self.session.post(
                self.url, data=json.dumps({"samples": samples}), timeout=self.timeout
            )
        except requests.RequestException as exc:
            self.counts.undelivered += len(samples)
            self._problem(f"{len(samples)} samples not delivered: {type(exc).__name__}: {exc}")
            return "undelivered"
        if response.status_code == 202:
            self.counts.accepted += int(response.json().get("accepted", 0))
            return "accepted"
        self.counts.refused += len(samples)
        self._problem(
            f"{len(samples)} samples refused: HTTP {response.status_code} {response.text[:300]}"
        )
        return "refused"

    def _problem(self, line: str) -> None:
        # Each distinct problem is printed the first time and then every 20th time it recurs.
        key = line[:80]
        seen = self.counts.problems[key] = self.counts.problems.get(key, 0) + 1
        if seen == 1 or seen % 20 == 0:
            self.out(f"ingest: {line}" + (f" (x{seen})" if seen > 1 else ""))


def point_registry(platform: SimulatedPlatform) -> tuple[list[str], list[str]]:
    """Point the registry's services at the simulated ones; (changed, missing) slugs."""
    changed, missing = [], []
    rows = {service.slug: service for service in Service.objects.filter(slug__in=platform.ports)}
    for slug in platform.ports:
        service = rows.get(slug)
        if service is None:
            missing.append(slug)
            continue
        url = platform.url(slug)
        if (service.target, service.health_path, service.kind) != (url, "/health", "http"):
            changes = {"target": url, "health_path": "/health", "kind": "http"}
            update_service(service=service, changes=changes)
            changed.append(slug)
    return changed, missing


def describe(incident: Incident) -> str:
    params = ", ".join(
        f"{name}={value:g}" if isinstance(value, float) else f"{name}={value}"
        for name, value in incident.params.items()
    )
    return f"{incident.kind} ({params}) from line {incident.line}"


class Simulator:
    """Pushes a tick of traffic every ``tick`` seconds until stopped (or ``run_for`` passes)."""

    def __init__(
        self,
        *,
        scenario: Scenario,
        pusher: Pusher,
        started: float,
        tick: float,
        seed: int,
        out: Out,
    ) -> None:
        self.scenario = scenario
        self.pusher = pusher
        self.started = started  # time.time() at offset 0
        self.tick = tick
        self.rng = random.Random(seed)
        self.out = out
        self.active: set[Incident] = set()

    def run(self, stop: threading.Event, run_for: float | None = None) -> PushCounts:
        last = time.time()
        while not stop.wait(max(0.0, last + self.tick - time.time())):
            now = time.time()
            self.step(now, now - last)
            last = now
            if run_for is not None and now - self.started >= run_for:
                break
        return self.pusher.counts

    def step(self, now: float, seconds: float) -> None:
        offset = now - self.started
        self._announce(offset)
        effects = effects_at(self.scenario.incidents, offset)
        traffic = interval_traffic(timezone.now(), seconds, effects, self.rng)
        self.pusher.push(traffic.payload(self.rng))

    def _announce(self, offset: float) -> None:
        active = set(self.scenario.active(offset))
        for incident in sorted(active - self.active, key=lambda i: i.start):
            if incident.start < 0:
                since = f"under way since {_clock(incident.start)}"
                self.out(f"{_clock(offset)} incident {since}: {describe(incident)}")
            else:
                self.out(f"{_clock(offset)} incident started: {describe(incident)}")
        for incident in sorted(self.active - active, key=lambda i: i.start):
            self.out(f"{_clock(offset)} incident over: {incident.kind} (line {incident.line})")
        self.active = active


def _clock(offset: float) -> str:
    minutes, seconds = divmod(abs(int(offset)), 60)
    return f"{'-' if offset < 0 else ''}{minutes}m{seconds:02d}s"
