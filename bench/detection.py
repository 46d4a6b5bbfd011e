"""Benchmark of detection delay (issue 19): from an incident's start to the page in Slack.

A running service (gunicorn through bin/web, the evaluator through bin/evaluator, the worker
cluster through bin/worker, PostgreSQL) receives a scenario through the ingest API, one push per
service every 5 s, stamped with the pusher's clock; its Slack channel is a loopback receiver
that records when each message arrives. The scenario, on one service label each:

- ``pay-step``: payment failure ratio over ``[2m]`` (rule: > 10 %, for 1m) jumps from 2 % to 30 %;
- ``pay-ramp``: the same rule's ratio climbs from 2 % to 25 % over two minutes;
- ``queue-step``: a queue (rule: ``max(queue_size) > 1000``, for 30s) jumps from 100 to 3,000;
- near misses that must not page: ``pay-near`` climbs to 8 % (under 10 %) and stays there;
  ``queue-blip`` is at 1,500 for 20 s (shorter than its 30 s ``for``).

Each incident starts at its own phase against the evaluator's 15-second grid, and the run is
repeated with every phase shifted (``RUNS``), so the worst phase is seen. The reference, computed
from the samples the benchmark sent: the ideal instant, when an exact evaluation of the rule over
those samples (the window ``(t - 2m, t]`` of the pushed increments, the gauge's latest value)
first holds, plus ``for``. Printed per incident: the delay from its start to the receiver's
message, the ideal delay, and the difference; then the worst difference and the false pages.
Target: no page later than the ideal by more than 20 s, no false page.

Run: .venv/bin/python bench/detection.py   (about 12 minutes; PostgreSQL database
mon_bench_detection, recreated; set BENCH_DATABASE_URL to use another). Exits 1 on a miss.
"""

from __future__ import annotations

import json
import math
import os
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.fake_vendors import SlackServer  # noqa: E402

DATABASE_URL = os.environ.get(
    "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/mon_bench_detection"
)
PUSH_EVERY = 5.0
INTERVAL = 15
RUN_SECONDS = 330.0
RUNS = int(os.environ.get("BENCH_RUNS", "2"))  # runs, each with every phase shifted
TARGET_LATE = 20.0
WINDOW = 120.0
RATIO = (
    'sum(increase(payment_failure_total{{service="{s}"}}[2m])) / '
    '(sum(increase(payment_success_total{{service="{s}"}}[2m])) + '
    'sum(increase(payment_failure_total{{service="{s}"}}[2m]))) * 100'
)
QUEUE = 'max(queue_size{{service="{s}"}})'


@dataclass
class Incident:
    """One service's story: its rule, and the value it pushes ``s`` seconds after its start."""

    service: str
    kind: str  # "ratio" (percent of failed payments) or "queue"
    threshold: float
    for_seconds: int
    start: float  # seconds after the run's start
    level: Callable[[float], float]  # the value at s seconds after the start (s < 0: before)
    should_page: bool
    sent: list[tuple[float, float]] = field(default_factory=list)  # (epoch, value)

    def expression(self) -> str:
        return (RATIO if self.kind == "ratio" else QUEUE).format(s=self.service)


def step(before: float, after: float) -> Callable[[float], float]:
    return lambda s: after if s >= 0 else before


def ramp(before: float, after: float, seconds: float) -> Callable[[float], float]:
    return lambda s: before if s < 0 else min(after, before + (after - before) * s / seconds)


def blip(before: float, during: float, seconds: float) -> Callable[[float], float]:
    return lambda s: during if 0 <= s < seconds else before


def scenario(shift: float) -> list[Incident]:
    """The incidents of one run; ``shift`` moves every start against the evaluation grid."""
    return [
        Incident("pay-step", "ratio", 10, 60, 40 + shift, step(2, 30), True),
        Incident("pay-ramp", "ratio", 10, 60, 47 + shift, ramp(2, 25, 120), True),
        Incident("queue-step", "queue", 1000, 30, 54 + shift, step(100, 3000), True),
        Incident("pay-near", "ratio", 10, 60, 41 + shift, ramp(2, 8, 60), False),
        Incident("queue-blip", "queue", 1000, 30, 62 + shift, blip(100, 1500, 20), False),
    ]


# --- the reference: an exact evaluation over the samples sent --------------------------------


def exact_value(incident: Incident, t: float) -> float | None:
    """The rule's value at ``t`` over what was sent: the window's ratio, the gauge's latest."""
    if incident.kind == "queue":
        before = [value for at, value in incident.sent if at <= t]
        return before[-1] if before else None
    inside = [value for at, value in incident.sent if t - WINDOW < at <= t]
    if not inside:
        return None
    return sum(inside) / len(inside)  # every push carries 100 payments: the ratio in percent


def ideal_page(incident: Incident, origin: float) -> float | None:
    """Seconds after the incident's start at which an exact evaluation would page, or None."""
    start = origin + incident.start
    held_since = None
    t = start - 60
    end = incident.sent[-1][0] if incident.sent else start
    while t <= end:
        value = exact_value(incident, t)
        if value is not None and value > incident.threshold:
            held_since = t if held_since is None else held_since
            if t - held_since >= incident.for_seconds:
                return held_since + incident.for_seconds - start
        else:
            held_since = None
        t += 0.25
    return None


# --- the service -----------------------------------------------------------------------------


def recreate_database() -> None:
    name = DATABASE_URL.rsplit("/", 1)[1]
    admin = DATABASE_URL.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


SETUP = """
from alerts.models import NotificationChannel, Rule
from alerts.rules.services import create_rule, update_rule
from metrics_app.services import create_ingest_token
for rule in Rule.objects.exclude(slug="self_check"):  # service_down too: nothing is probed
    update_rule(rule=rule, changes={{"enabled": False}}, user=None)
NotificationChannel.objects.all().update(enabled=False)
config = {{"webhook_url": {url!r}}}
NotificationChannel.objects.create(name="bench slack", kind="slack", config=config)
for spec in {rules!r}:
    fields = dict(channels=["slack"], cooldown_seconds=0, severity="error", **spec)
    fields["annotations"] = {{"summary": spec["name"] + " at {{value}}", "description": ""}}
    create_rule(fields=fields, user=None, reason="bench/detection.py")
token = create_ingest_token(service="bench", name="bench", multi_service=True)[1]
open({out!r}, "w").write(token)
"""


class Service:
    """bin/prepare, then bin/web, bin/worker and bin/evaluator on a fresh database."""

    def __init__(self, workdir: Path, slack: SlackServer, incidents: list[Incident]) -> None:
        """``incidents``: those of every run, so that every rule exists before the first."""
        self.port = free_port()
        self.env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("REDIS_URL", "DATABASE_URL", "SLACK_", "PAGERDUTY_", "SMTP_"))
        }
        self.env.update(
            DATABASE_URL=DATABASE_URL,
            PORT=str(self.port),
            VAR_DIR=str(workdir),
            ENV_FILE=str(workdir / "env"),
            SECRET_KEY=secrets.token_urlsafe(40),
            JWT_SECRET=secrets.token_urlsafe(40),
            ALLOW_HTTP_WEBHOOKS="true",
            WEBHOOK_ALLOW_PRIVATE="true",
            RULE_EVALUATION_INTERVAL_SECONDS=str(INTERVAL),
            LOG_LEVEL="WARNING",
            METRICS_HOST_SAMPLING="false",
        )
        self.workdir, self.slack, self.incidents = workdir, slack, incidents
        self.processes: list[subprocess.Popen[bytes]] = []

    def manage(self, *args: str) -> None:
        subprocess.run(
            [str(ROOT / ".venv/bin/python"), "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            check=True,
            stdout=subprocess.DEVNULL,
        )

    def prepare(self) -> str:
        subprocess.run(
            ["bin/prepare"], cwd=ROOT, env=self.env, check=True, stdout=subprocess.DEVNULL
        )
        rules = [
            {
                "name": incident.service,
                "slug": incident.service,
                "expression": incident.expression(),
                "operator": ">",
                "threshold": incident.threshold,
                "for_seconds": incident.for_seconds,
            }
            for incident in self.incidents
        ]
        out = self.workdir / "token"
        code = SETUP.format(url=self.slack.webhook_url, rules=rules, out=str(out))
        self.manage("shell", "-c", code)
        return out.read_text()

    def start(self) -> None:
        for script in ("bin/web", "bin/worker", "bin/evaluator"):
            log = open(self.workdir / f"{script[4:]}.log", "wb")
            self.processes.append(
                subprocess.Popen(
                    [script], cwd=ROOT, env=self.env, stdout=log, stderr=log, start_new_session=True
                )
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{self.url}/status", timeout=2).status_code < 500:
                    return
            except requests.RequestException:
                time.sleep(0.5)
        raise SystemExit("the service did not answer /status within 60 s")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                os.kill(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)


# --- a run -----------------------------------------------------------------------------------


def push_round(
    session: requests.Session, url: str, incidents: list[Incident], origin: float
) -> None:
    now = time.time()
    samples: list[dict[str, Any]] = []
    for incident in incidents:
        value = incident.level(now - origin - incident.start)
        incident.sent.append((now, value))
        if incident.kind == "queue":
            samples.append(_sample("queue_size", incident.service, value, now, queue="main"))
            continue
        failures = round(value)  # 100 payments per push: failures = the percentage
        samples.append(_sample("payment_failure_total", incident.service, failures, now))
        samples.append(_sample("payment_success_total", incident.service, 100 - failures, now))
    body = json.dumps({"samples": samples})
    response = session.post(f"{url}/api/v1/metrics/ingest", data=body, timeout=10)
    if response.status_code >= 300:
        raise SystemExit(f"ingest answered {response.status_code}: {response.text[:300]}")


def _sample(metric: str, service: str, value: float, at: float, **labels: str) -> dict[str, Any]:
    return {
        "metric": metric,
        "labels": {"service": service, **labels},
        "value": value,
        "timestamp": at,
    }


def run_once(service: Service, token: str, incidents: list[Incident]) -> list[dict[str, Any]]:
    """Push the quiet "before" for 2 minutes, then the incidents; what each paged, and when."""
    session = requests.Session()
    session.headers.update({"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    seen = len(service.slack.requests)
    # The incidents' start times count from a point of the evaluator's grid (their phases
    # against it are the point), after two minutes of the quiet "before" (the windows fill).
    origin = math.ceil((time.time() + WINDOW) / INTERVAL) * INTERVAL
    next_push = time.time()
    while time.time() < origin + RUN_SECONDS:
        push_round(session, service.url, incidents, origin)
        next_push += PUSH_EVERY
        time.sleep(max(0.0, next_push - time.time()))
    time.sleep(5)
    return _results(service, incidents, origin, seen)


def _results(
    service: Service, incidents: list[Incident], origin: float, seen: int
) -> list[dict[str, Any]]:
    arrivals: dict[str, float] = {}
    for request in service.slack.requests[seen:]:
        try:
            text = str(request.json().get("text", ""))
        except ValueError:
            continue
        if "Firing" not in text:
            continue
        for incident in incidents:
            named = re.search(rf"Firing: {re.escape(incident.service)}(:| |$)", text)
            if named and incident.service not in arrivals:
                arrivals[incident.service] = request.at.timestamp()
    results = []
    for incident in incidents:
        page = arrivals.get(incident.service)
        ideal = ideal_page(incident, origin)
        results.append(
            {
                "incident": incident.service,
                "should_page": incident.should_page,
                "delay": None if page is None else page - (origin + incident.start),
                "ideal": ideal,
            }
        )
    return results


def main() -> int:
    recreate_database()
    runs = [scenario(shift) for shift in (0.0, 7.0, 11.0)[:RUNS]]
    for shift, incidents in zip((0, 7, 11), runs, strict=False):
        for incident in incidents:  # one rule per incident and run
            incident.service = f"{incident.service}-{shift}"
    with tempfile.TemporaryDirectory() as tmp, SlackServer() as slack:
        service = Service(Path(tmp), slack, [i for run in runs for i in run])
        token = service.prepare()
        service.start()
        try:
            results = [row for incidents in runs for row in run_once(service, token, incidents)]
        finally:
            service.stop()
    worst, false_pages, missed = 0.0, 0, 0
    print(f"{'incident':<16} {'delay s':>8} {'ideal s':>8} {'late s':>7}")
    for row in results:
        delay, ideal = row["delay"], row["ideal"]
        if not row["should_page"]:
            false_pages += delay is not None
            print(f"{row['incident']:<16} {_fmt(delay):>8} {'no page':>8}   (near miss)")
            continue
        if delay is None or ideal is None:
            missed += 1
            print(f"{row['incident']:<16} {_fmt(delay):>8} {_fmt(ideal):>8}   MISSED")
            continue
        late = delay - ideal
        worst = max(worst, late)
        print(f"{row['incident']:<16} {delay:>8.1f} {ideal:>8.1f} {late:>7.1f}")
    print(f"worst lateness against the ideal: {worst:.1f} s (target <= {TARGET_LATE:g} s)")
    print(f"false pages: {false_pages}, missed pages: {missed}")
    return 0 if worst <= TARGET_LATE and false_pages == 0 and missed == 0 else 1


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


if __name__ == "__main__":
    sys.exit(main())
