"""The end-to-end proof (issue #21): every part of the service at once, as it runs in production.

Real processes: PostgreSQL and Redis, gunicorn with two workers, one qcluster (django-q2's
scheduler and workers), the rule evaluator when the code base has one (``manage.py
run_evaluator``), the simulator (``manage.py simulate_platform``) pushing traffic through the
ingest API and playing tests/e2e/scenario.yaml, Slack, PagerDuty and webhook receivers and an SMTP
server on 127.0.0.1, and Debian's Prometheus scraping ``/metrics``. The default rules are off;
three rules of the test (two-minute windows, ``for`` of one minute) and an escalation policy of
one- and two-minute waits page about three overlapping incidents, two near-misses page nobody.

One run (the module fixture, about ten minutes) is judged by the tests below, against the
reference of tests/e2e/ideal.py computed from what the simulator recorded it sent. Kept out of
``make test`` (pyproject's norecursedirs); ``.ci/run`` runs it as a step of its own:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/monitoring_e2e \\
    REDIS_URL=redis://127.0.0.1:6379/10 .venv/bin/python -m pytest -n 0 tests/e2e

Logs of every process, the record and a summary stay in ``E2E_ARTIFACTS`` (default: pytest's
temporary directory), named in every failure.
"""

from __future__ import annotations

import ipaddress
import json
import math
import os
import secrets
import signal
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import redis
import requests
from django.contrib.auth.models import Group, User
from django.core.management import get_commands
from django.db import connection
from django.db.models import Count
from django.test import override_settings

from alerts.bootstrap.rules import DEFAULT_RULES
from alerts.models import (
    Alert,
    AlertEscalation,
    EscalationLevel,
    EscalationPolicy,
    Notification,
    NotificationChannel,
    Rule,
)
from alerts.notifications.services import save_channel
from alerts.rules.services import create_rule, update_rule
from alerts.rules.validation import rule_problems
from metrics_app.catalogue import COUNTER, builtin_metrics
from metrics_app.exposition import exposed_name
from monitoring_site.models import JobRun
from monitoring_site.roles import Role
from tests.demo.processes import BASE_DIR, base_env, free_block, wait_for
from tests.e2e.ideal import (
    Batch,
    Episode,
    ExactRule,
    Samples,
    as_dict,
    episodes,
    ratio,
    read_record,
)
from tests.e2e.pages import Page, all_pages
from tests.e2e.processes import Processes
from tests.support.fake_vendors import PagerDutyServer, SlackServer, WebhookReceiver
from tests.support.smtp import SmtpServer

# The mark makes pytest-django create the test database the processes share; the run itself is
# one module fixture, so each test only reads what it gathered.
pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SCENARIO = Path(__file__).with_name("scenario.yaml")
SCENARIO_SECONDS = 510.0  # the last incident (a near-miss) ends 8m30s after the start
TICK = 5.0
SEED = 21
PAGE_TOLERANCE = 30.0  # a page within 30 s of its ideal instant (issue #21)
# Escalation is the minute job alerts.notify.escalate: a step falls due between two runs, and
# django-q2's scheduler wakes every 30 s, so a step is taken at most 90 s after its deadline.
ESCALATION_LATENESS = 90.0
ACK_AFTER = 10.0  # the operator acknowledges 10 s after the first page (well before level 2)
SETTLE_SECONDS = 300.0  # after the scenario: alerts resolve and their messages arrive
ROUTING_KEY = "e2e0routing0key00000000000000000"
WEBHOOK_SECRET = secrets.token_hex(16)
OPERATOR = ("e2e-operator", secrets.token_urlsafe(24))
WINDOW = 120.0

QUEUE = ExactRule(
    name="E2E Queue Backup",
    expression="max(queue_size)",
    operator=">",
    threshold=1000,
    for_seconds=60,
    windows=(),
    value=lambda s, t: max(s.latest("queue_size", t), default=None),
)
ERRORS = ExactRule(
    name="E2E API Errors",
    expression=(
        "sum(increase(errors_total[2m])) / sum(increase(http_request_duration_ms_count[2m])) * 100"
    ),
    operator=">",
    threshold=10,
    for_seconds=60,
    windows=(WINDOW,),
    value=lambda s, t: ratio(
        s.increase("errors_total", WINDOW, t), s.observed("http_request_duration_ms", WINDOW, t)
    ),
    guard_expression="sum(increase(http_request_duration_ms_count[2m]))",
    min_volume=50,
    guard=lambda s, t: s.observed("http_request_duration_ms", WINDOW, t),
)
SOLANA = ExactRule(
    name="E2E Solana Failures",
    expression=(
        'sum(increase(solana_transaction_time_ms_count{status="failed"}[2m]))'
        " / sum(increase(solana_transaction_time_ms_count[2m])) * 100"
    ),
    operator=">",
    threshold=20,
    for_seconds=60,
    windows=(WINDOW,),
    value=lambda s, t: ratio(
        s.observed("solana_transaction_time_ms", WINDOW, t, status="failed"),
        s.observed("solana_transaction_time_ms", WINDOW, t),
    ),
    guard_expression="sum(increase(solana_transaction_time_ms_count[2m]))",
    min_volume=10,
    guard=lambda s, t: s.observed("solana_transaction_time_ms", WINDOW, t),
)


@dataclass(frozen=True)
class Routing:
    """Where a rule's alerts go: the rule's own channels and its escalation policy."""

    severity: str
    kinds: tuple[str, ...]  # channels by kind (the bootstrap's Email, Slack, PagerDuty)
    webhook: bool  # the test's webhook channel, by reference
    escalates: bool  # the test's policy: level 1 Slack (1 min), level 2 PagerDuty (2 min)

    def firing_channels(self) -> set[str]:
        return {*self.kinds, *(("webhook",) if self.webhook else ()), *self._level(1)}

    def _level(self, position: int) -> tuple[str, ...]:
        return (("slack",), ("pagerduty",))[position - 1] if self.escalates else ()


ROUTES = {
    QUEUE.name: Routing("warning", ("slack",), webhook=True, escalates=False),
    ERRORS.name: Routing("error", ("email",), webhook=True, escalates=True),
    SOLANA.name: Routing("critical", ("pagerduty", "email"), webhook=False, escalates=True),
}
RULES = (QUEUE, ERRORS, SOLANA)
ACKNOWLEDGED_RULE = SOLANA.name  # acknowledged through the API; the others are not
LEVEL_WAITS = (60.0, 120.0)


@dataclass
class AlertRow:
    id: int
    rule: str
    state: str
    fired_at: float | None
    acknowledged_at: float | None
    resolved_at: float | None
    escalation: dict[str, Any] | None


@dataclass
class Run:
    """Everything the tests judge, gathered while the processes ran."""

    artifacts: Path
    evaluator: bool = False
    batches: list[Batch] = field(default_factory=list)
    origin: float = 0.0  # the simulator's start (Unix time)
    until: float = 0.0  # the last batch sent
    pages: list[Page] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)  # requests a receiver did not accept
    alerts: list[AlertRow] = field(default_factory=list)
    other_alerts: list[str] = field(default_factory=list)
    ack: dict[str, Any] = field(default_factory=dict)
    pagerduty_incidents: list[dict[str, Any]] = field(default_factory=list)
    job_runs: dict[str, dict[str, int]] = field(default_factory=dict)  # job -> outcome -> runs
    expected_totals: dict[str, float] = field(default_factory=dict)
    scraped_totals: dict[str, float | None] = field(default_factory=dict)
    simulator_status: int | None = None
    simulator_output: str = ""
    leftovers: list[str] = field(default_factory=list)
    forced: list[str] = field(default_factory=list)
    samples: Samples | None = None

    def where(self) -> str:
        return f"(logs, record and summary in {self.artifacts})"

    def ideal(self, rule: ExactRule) -> list[Episode]:
        assert self.samples is not None
        return episodes(rule, self.samples, self.until)

    def rule_alerts(self, rule: ExactRule) -> list[AlertRow]:
        """The rule's alerts that fired (one held pending shorter than ``for`` pages nobody)."""
        return [a for a in self.alerts if a.rule == rule.name and a.fired_at is not None]

    def fired(self) -> list[AlertRow]:
        return [alert for alert in self.alerts if alert.fired_at is not None]

    def pages_of(self, alert: AlertRow, event: str | None = None) -> list[Page]:
        return [
            p for p in self.pages if p.alert_id == alert.id and (event is None or p.event == event)
        ]

    def rel(self, t: float | None) -> str:
        return "never" if t is None else f"+{t - self.origin:.1f} s"


# --- the run ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def run(
    django_db_setup: None,
    django_db_blocker: Any,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Run]:
    artifacts = _artifacts(tmp_path_factory)
    # A SIGTERM (CI's timeout) unwinds like Ctrl-C, so the processes are stopped all the same.
    previous = signal.signal(signal.SIGTERM, _interrupted)
    with django_db_blocker.unblock():
        _require_postgresql_and_redis()
        result = Run(artifacts=artifacts)
        receivers = _Receivers().start()
        try:
            _play(result, receivers)
        finally:
            receivers.stop()
            _write_summary(result)
            signal.signal(signal.SIGTERM, previous)
    yield result


def _interrupted(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _artifacts(factory: pytest.TempPathFactory) -> Path:
    given = os.environ.get("E2E_ARTIFACTS", "")
    path = Path(given).resolve() if given else factory.mktemp("e2e")
    path.mkdir(parents=True, exist_ok=True)
    (path / "var" / "multiproc").mkdir(parents=True, exist_ok=True)
    return path


def _require_postgresql_and_redis() -> None:
    if connection.vendor != "postgresql" or not os.environ.get("REDIS_URL"):
        pytest.fail(
            "the end-to-end test runs on PostgreSQL and Redis: set DATABASE_URL=postgres://... "
            "and REDIS_URL=redis://... (see the module docstring)"
        )


class _Receivers:
    def __init__(self) -> None:
        self.slack = SlackServer()
        self.pagerduty = PagerDutyServer(routing_keys=[ROUTING_KEY])
        self.webhook = WebhookReceiver(secret=WEBHOOK_SECRET)
        self.smtp = SmtpServer()

    def start(self) -> _Receivers:
        for server in (self.slack, self.pagerduty, self.webhook, self.smtp):
            server.start()
        return self

    def stop(self) -> None:
        for server in (self.slack, self.pagerduty, self.webhook, self.smtp):
            server.stop()

    def pages(self) -> list[Page]:
        return all_pages(
            slack=self.slack, pagerduty=self.pagerduty, webhook=self.webhook, smtp=self.smtp
        )

    def rejected(self) -> list[str]:
        return [
            f"{type(server).__name__} answered {r.status} to {r.method} {r.path}"
            for server in (self.slack, self.pagerduty, self.webhook)
            for r in server.requests
            if r.status is None or not 200 <= r.status < 300
        ]


def _environment(artifacts: Path, port: int, receivers: _Receivers) -> dict[str, str]:
    db = connection.settings_dict
    user = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    database = f"postgres://{user}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    var_dir = artifacts / "var"
    return {
        **base_env(var_dir),
        "DATABASE_URL": database,
        "REDIS_URL": os.environ["REDIS_URL"],
        "PORT": str(port),
        "SITE_URL": f"http://127.0.0.1:{port}",
        "HTTPS": "false",
        "WEB_CONCURRENCY": "2",
        "Q_WORKERS": "2",
        "WORKER_CLUSTER_NAME": f"e2e-{port}",
        "LOG_LEVEL": "INFO",
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(receivers.smtp.port),
        "SMTP_TLS": "false",
        "SMTP_SSL": "false",
        "ALERT_FROM_EMAIL": "monitoring@e2e.test",
        "ALERT_TO_EMAIL": "oncall@e2e.test",
        "SLACK_WEBHOOK_URL": receivers.slack.webhook_url,
        "PAGERDUTY_ROUTING_KEY": ROUTING_KEY,
        "PAGERDUTY_EVENTS_URL": receivers.pagerduty.events_url,
        "ALLOW_HTTP_WEBHOOKS": "true",
        "WEBHOOK_ALLOWED_NETWORKS": "127.0.0.1/32",
    }


def _play(result: Run, receivers: _Receivers) -> None:
    port, services, prometheus_port = _ports()
    env = _environment(result.artifacts, port, receivers)
    redis.Redis.from_url(env["REDIS_URL"]).flushdb()  # this test's own database number
    procs = Processes(cwd=BASE_DIR, logs=result.artifacts, env=env)
    python = sys.executable
    try:
        procs.run("bootstrap", [python, "manage.py", "bootstrap"])
        procs.run("collectstatic", [python, "manage.py", "collectstatic", "--noinput", "-v0"])
        # The test's own process validates the webhook channel as the service would.
        loopback = [ipaddress.ip_network("127.0.0.1/32")]
        with override_settings(ALLOW_HTTP_WEBHOOKS=True, WEBHOOK_ALLOWED_NETWORKS=loopback):
            _configure(receivers)
        _start_prometheus(procs, result.artifacts, port, prometheus_port)
        procs.start("web", ["bin/web"])
        url = f"http://127.0.0.1:{port}"
        wait_for(lambda: requests.get(f"{url}/status", timeout=2).ok, 90, "gunicorn's /status")
        # The evaluator before the worker: the worker's minute job would take a missing
        # heartbeat for a dead evaluator.
        result.evaluator = "run_evaluator" in get_commands()
        if result.evaluator:
            procs.start("evaluator", [python, "manage.py", "run_evaluator"])
        record = result.artifacts / "record.jsonl"
        record.unlink(missing_ok=True)
        started = time.time()
        procs.start(
            "simulator",
            [python, "manage.py", "simulate_platform", "--scenario", str(SCENARIO), "--url", url,
             "--base-port", str(services), "--tick", f"{TICK:g}", "--seed", str(SEED),
             "--record", str(record)],
            stop_signal=signal.SIGINT,
        )  # fmt: skip
        procs.start("worker", ["bin/worker"])
        result.origin = _simulator_start(record, started)
        _drive(result, receivers, procs, url)
        result.simulator_status = procs.stop("simulator", grace=60)
        result.simulator_output = procs.tail("simulator", 20000)
        result.batches = read_record(record)
        result.until = max(batch.sent_at for batch in result.batches)
        result.samples = Samples(result.batches)
        counters = {s.name: exposed_name(s) for s in builtin_metrics() if s.type == COUNTER}
        result.expected_totals = result.samples.totals(counters)
        result.scraped_totals = _scraped(prometheus_port, result.expected_totals)
        _collect(result, receivers)
    finally:
        result.leftovers = procs.stop_all(["simulator", "evaluator", "worker", "web", "prometheus"])
        result.forced = procs.forced


def _ports() -> tuple[int, int, int]:
    """The web server's, the first of the 21 simulated services', and Prometheus' ports, apart."""
    while True:
        port, services, prometheus = free_block(1), free_block(21), free_block(1)
        taken = {port, *range(services, services + 21)}
        if len(taken) == 22 and prometheus not in taken:
            return port, services, prometheus


def _configure(receivers: _Receivers) -> None:
    """The default rules off; the test's webhook channel, policy, rules and operator."""
    defaults = Rule.objects.filter(slug__in=[spec["slug"] for spec in DEFAULT_RULES])
    for default in defaults:
        update_rule(rule=default, changes={"enabled": False}, user=None)
    webhook = NotificationChannel(
        kind="webhook",
        name="E2E webhook",
        config={"url": f"{receivers.webhook.url}/alerts", "secret": WEBHOOK_SECRET},
    )
    webhook.full_clean()
    save_channel(channel=webhook, user=None, reason="end-to-end test")
    policy = EscalationPolicy.objects.create(name="E2E escalation")
    for position, (name, kind, wait) in enumerate(
        (("On call", "slack", 1), ("Team lead", "pagerduty", 2)), start=1
    ):
        level = EscalationLevel.objects.create(
            policy=policy, position=position, name=name, wait_minutes=wait
        )
        level.channels.set(NotificationChannel.objects.filter(kind=kind, for_rule_kinds=True))
    for rule in RULES:
        route = ROUTES[rule.name]
        fields: dict[str, Any] = {
            "name": rule.name,
            "expression": rule.expression,
            "operator": rule.operator,
            "threshold": rule.threshold,
            "for_seconds": rule.for_seconds,
            "severity": route.severity,
            "channels": list(route.kinds),
            "annotations": {"summary": f"{rule.name}: {{value}} (threshold {{threshold}})"},
            "min_volume_expression": rule.guard_expression,
            "min_volume": rule.min_volume,
            "cooldown_seconds": 0,
        }
        problems = rule_problems(fields)
        assert not problems, f"{rule.name}: {problems}"
        fields["escalation_policy"] = policy if route.escalates else None
        fields["notification_channels"] = [webhook] if route.webhook else []
        create_rule(fields=fields, user=None, reason="end-to-end test")
    operator = User.objects.create_user(OPERATOR[0], password=OPERATOR[1])
    operator.groups.add(Group.objects.get(name=Role.OPERATOR.group_name))


def _start_prometheus(procs: Processes, artifacts: Path, port: int, own_port: int) -> None:
    config = artifacts / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 5s\n  scrape_timeout: 4s\n"
        "scrape_configs:\n  - job_name: monitoring\n"
        f"    static_configs:\n      - targets: ['127.0.0.1:{port}']\n"
    )
    procs.start(
        "prometheus",
        ["prometheus", f"--config.file={config}", f"--storage.tsdb.path={artifacts / 'tsdb'}",
         f"--web.listen-address=127.0.0.1:{own_port}", "--log.level=warn"],
    )  # fmt: skip
    wait_for(
        lambda: requests.get(f"http://127.0.0.1:{own_port}/-/ready", timeout=2).ok,
        60,
        "Prometheus ready",
    )


def _simulator_start(record: Path, started: float) -> float:
    """The simulator's offset 0: its first push comes one tick after its start."""

    def first_line() -> str | None:
        text = record.read_text() if record.exists() else ""
        return text.splitlines()[0] if text.strip() else None

    line = wait_for(first_line, 90, "the simulator's first push")
    return max(started, float(json.loads(line)["sent_at"]) - TICK)


def _drive(result: Run, receivers: _Receivers, procs: Processes, url: str) -> None:
    """Until the scenario is over and everything has settled: acknowledge the acknowledged rule's
    alert through the API, as an operator paged would, ACK_AFTER seconds after its first page."""
    deadline = result.origin + SCENARIO_SECONDS + SETTLE_SECONDS
    while True:
        exited = procs.exited()
        assert not exited, f"a process died: {exited} {result.where()}"
        if not result.ack:
            _maybe_acknowledge(result, receivers, url)
        now = time.time()
        if now > result.origin + SCENARIO_SECONDS and _settled(result):
            return
        if now > deadline:
            return  # the tests say what never happened
        time.sleep(1.0)


def _maybe_acknowledge(result: Run, receivers: _Receivers, url: str) -> None:
    ids = set(Alert.objects.filter(rule__name=ACKNOWLEDGED_RULE).values_list("id", flat=True))
    first = next((p for p in receivers.pages() if p.alert_id in ids), None)
    if first is None or time.time() < first.at + ACK_AFTER:
        return
    token = requests.post(
        f"{url}/api/auth/token/",
        json={"username": OPERATOR[0], "password": OPERATOR[1]},
        timeout=10,
    )
    assert token.status_code == 200, token.text
    at = time.time()
    answer = requests.post(
        f"{url}/api/v1/monitoring/alerts/{first.alert_id}/acknowledge",
        headers={"Authorization": f"Bearer {token.json()['access']}"},
        timeout=10,
    )
    result.ack = {"alert": first.alert_id, "at": at, "status": answer.status_code}
    result.ack["body"] = answer.json() if answer.content else None


def _settled(result: Run) -> bool:
    """No alert of the test's rules open and nothing left in the outbox."""
    names = [rule.name for rule in RULES]
    open_alerts = Alert.objects.filter(rule__name__in=names).exclude(state=Alert.State.RESOLVED)
    pending = Notification.objects.filter(
        state__in=[Notification.State.QUEUED, Notification.State.SENDING]
    )
    return not open_alerts.exists() and not pending.exists()


def _scraped(port: int, expected: dict[str, float]) -> dict[str, float | None]:
    """What Prometheus holds for each expected figure, once it has caught up (or 90 s)."""
    deadline = time.monotonic() + 90
    while True:
        scraped = {query: _query(port, query) for query in expected}
        if all(_same(scraped[q], v) for q, v in expected.items()) or time.monotonic() > deadline:
            return scraped
        time.sleep(3)


def _query(port: int, query: str) -> float | None:
    answer = requests.get(
        f"http://127.0.0.1:{port}/api/v1/query", params={"query": query}, timeout=10
    ).json()
    found = answer.get("data", {}).get("result", [])
    return float(found[0]["value"][1]) if found else None


def _same(got: float | None, want: float) -> bool:
    return got is not None and math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-6)


def _collect(result: Run, receivers: _Receivers) -> None:
    result.pages = receivers.pages()
    result.rejected = receivers.rejected()
    names = [rule.name for rule in RULES]
    for alert in Alert.objects.order_by("id"):
        if alert.rule_name not in names:
            result.other_alerts.append(f"{alert.id} {alert.rule_name} {alert.state}")
            continue
        row = AlertEscalation.objects.filter(alert=alert).values().first()
        escalation = dict(row) if row is not None else None
        result.alerts.append(
            AlertRow(
                id=alert.id,
                rule=alert.rule_name,
                state=alert.state,
                fired_at=_ts(alert.fired_at),
                acknowledged_at=_ts(alert.acknowledged_at),
                resolved_at=_ts(alert.resolved_at),
                escalation=escalation,
            )
        )
    for run in JobRun.objects.values("job", "outcome").annotate(n=Count("id")):
        result.job_runs.setdefault(run["job"], {})[run["outcome"]] = run["n"]
    result.pagerduty_incidents = [
        {"dedup_key": i.dedup_key, "status": i.status, "events": len(i.events)}
        for i in receivers.pagerduty.incidents
    ]


def _ts(value: Any) -> float | None:
    return None if value is None else float(value.timestamp())


def _write_summary(result: Run) -> None:
    summary: dict[str, Any] = {
        "evaluator": result.evaluator,
        "origin": result.origin,
        "pages": [p.describe(result.origin) for p in result.pages],
        "alerts": [
            {**a.__dict__, "escalation": None} | {
                "fired": result.rel(a.fired_at), "resolved": result.rel(a.resolved_at)
            }
            for a in result.alerts
        ],
        "other_alerts": result.other_alerts,
        "ack": result.ack,
        "pagerduty_incidents": result.pagerduty_incidents,
        "job_runs": result.job_runs,
        "leftovers": result.leftovers,
        "forced": result.forced,
    }  # fmt: skip
    if result.samples is not None:
        summary["ideal"] = {
            rule.name: [as_dict(e, result.origin) for e in result.ideal(rule)] for rule in RULES
        }
        summary["totals"] = {
            q: [v, result.scraped_totals.get(q)] for q, v in result.expected_totals.items()
        }
    (result.artifacts / "summary.json").write_text(json.dumps(summary, indent=2, default=str))


# --- what the run must show ---------------------------------------------------------------------


def test_the_scenario_gives_each_rule_one_ideal_page_and_the_near_misses_none(run: Run) -> None:
    for rule in RULES:
        firing = [e for e in run.ideal(rule) if e.fires_at is not None]
        shown = [as_dict(e, run.origin) for e in run.ideal(rule)]
        assert len(firing) == 1, f"{rule.name}: ideal episodes {shown} {run.where()}"


def test_each_incident_is_paged_within_30_s_of_its_ideal_instant(run: Run) -> None:
    late = []
    for rule in RULES:
        ideal = [e.fires_at for e in run.ideal(rule) if e.fires_at is not None]
        alerts = run.rule_alerts(rule)
        assert len(alerts) == len(ideal) == 1, f"{rule.name}: {alerts} {run.where()}"
        pages = run.pages_of(alerts[0], "firing")
        assert pages, f"{rule.name}: never paged {run.where()}"
        delay = pages[0].at - ideal[0]
        if abs(delay) > PAGE_TOLERANCE:
            late.append(f"{rule.name}: paged {delay:+.1f} s from its ideal {run.rel(ideal[0])}")
    assert not late, f"{late} (evaluator process: {run.evaluator}) {run.where()}"


def test_nothing_else_pages(run: Run) -> None:
    assert run.other_alerts == [], run.where()
    ours = {alert.id for alert in run.fired()}
    strays = [p.describe(run.origin) for p in run.pages if p.alert_id not in ours]
    assert strays == [], run.where()
    for rule in RULES:
        ideal = [e for e in run.ideal(rule) if e.fires_at is not None]
        assert len(run.rule_alerts(rule)) == len(ideal), f"{rule.name} {run.where()}"
    assert run.rejected == [], run.where()


def test_each_alert_reaches_the_channels_of_its_rule_once(run: Run) -> None:
    for rule in RULES:
        for alert in run.rule_alerts(rule):
            channels = sorted(p.channel for p in run.pages_of(alert, "firing"))
            expected = sorted(ROUTES[rule.name].firing_channels())
            assert channels == expected, f"{rule.name}: {channels} {run.where()}"


def test_an_unacknowledged_alert_escalates_on_time_until_it_resolves(run: Run) -> None:
    (alert,) = run.rule_alerts(ERRORS)
    assert alert.fired_at is not None and alert.resolved_at is not None, run.where()
    steps = sorted(
        (p for p in run.pages_of(alert) if p.event in ("escalated", "reminder")),
        key=lambda p: p.at,
    )
    assert steps and steps[0].event == "escalated", f"never escalated {run.where()}"
    assert all(p.channel == "pagerduty" for p in steps), run.where()  # level 2: PagerDuty
    previous, wait = alert.fired_at, LEVEL_WAITS[0]
    for step in steps:
        lateness = step.at - (previous + wait)
        assert 0 <= lateness <= ESCALATION_LATENESS, (
            f"{step.describe(run.origin)} due {run.rel(previous + wait)} {run.where()}"
        )
        assert step.at <= alert.resolved_at, f"after resolution: {step} {run.where()}"
        previous, wait = step.at, LEVEL_WAITS[1]
    for rule in (QUEUE,):  # a warning has no escalation policy
        for other in run.rule_alerts(rule):
            assert not [p for p in run.pages_of(other) if p.event in ("escalated", "reminder")]


def test_an_acknowledgement_through_the_api_stops_escalation(run: Run) -> None:
    (alert,) = run.rule_alerts(SOLANA)
    assert run.ack.get("status") == 200, f"{run.ack} {run.where()}"
    assert run.ack["alert"] == alert.id and alert.acknowledged_at is not None
    assert alert.fired_at is not None
    # Acknowledged before level 2 fell due: without the acknowledgement it would have escalated.
    assert run.ack["at"] < alert.fired_at + LEVEL_WAITS[0], run.where()
    escalated = [p for p in run.pages_of(alert) if p.event in ("escalated", "reminder")]
    assert escalated == [], run.where()
    assert alert.escalation is not None and alert.escalation["stopped_at"] is not None
    told = {p.channel for p in run.pages_of(alert, "firing")}
    acknowledged = sorted(p.channel for p in run.pages_of(alert, "acknowledged"))
    assert acknowledged == sorted(told), run.where()


def test_resolved_messages_reach_every_channel_told(run: Run) -> None:
    assert all(a.state == Alert.State.RESOLVED for a in run.alerts), run.where()
    for alert in run.fired():
        told = {p.channel for p in run.pages_of(alert) if p.event in ("firing", "escalated")}
        assert told, f"{alert.rule}: fired, told nobody {run.where()}"
        resolved = sorted(p.channel for p in run.pages_of(alert, "resolved"))
        assert resolved == sorted(told), f"{alert.rule}: {resolved} {run.where()}"
        last = max(p.at for p in run.pages_of(alert) if p.event != "resolved")
        assert all(p.at >= last for p in run.pages_of(alert, "resolved")), run.where()


def test_pagerduty_sees_one_incident_per_alert_and_each_is_resolved(run: Run) -> None:
    paged = sorted({p.alert_id for p in run.pages if p.channel == "pagerduty"}, key=str)
    expected = sorted(
        a.id for a in run.fired() if "pagerduty" in ROUTES[a.rule].kinds or ROUTES[a.rule].escalates
    )
    assert paged == expected, run.where()
    incidents = run.pagerduty_incidents
    assert len(incidents) == len(expected), f"{incidents} {run.where()}"
    assert len({i["dedup_key"] for i in incidents}) == len(incidents)
    assert all(i["status"] == "resolved" for i in incidents), f"{incidents} {run.where()}"


def test_prometheus_scraped_the_totals_the_simulator_sent(run: Run) -> None:
    assert run.simulator_status == 0, run.simulator_output[-3000:]
    assert " 0 refused by the ingest API, 0 not delivered" in run.simulator_output
    assert run.batches and all(b.outcome == "accepted" for b in run.batches), run.where()
    assert len(run.expected_totals) >= 20, run.expected_totals  # counters, histograms, gauges
    different = {
        query: (want, run.scraped_totals.get(query))
        for query, want in run.expected_totals.items()
        if not _same(run.scraped_totals.get(query), want)
    }
    assert different == {}, f"sent vs scraped: {different} {run.where()}"


def test_the_worker_cluster_ran_the_schedules_and_no_job_failed(run: Run) -> None:
    # Escalation, the dispatch sweep and the health rounds are django-q2 schedules of one minute.
    for job in ("alerts.notify.escalate", "alerts.notify.sweep", "health.round"):
        runs = run.job_runs.get(job, {})
        assert runs.get(JobRun.Outcome.SUCCESS, 0) >= 5, f"{job}: {runs} {run.where()}"
    failed = {job: runs for job, runs in run.job_runs.items() if JobRun.Outcome.FAILURE in runs}
    assert failed == {}, run.where()


def test_every_process_is_stopped(run: Run) -> None:
    assert run.leftovers == [], f"still running: {run.leftovers} {run.where()}"
