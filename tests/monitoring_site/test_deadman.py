"""The dead-man's switch: pinged after every successful evaluation, silent when it fails (#14)."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.utils import timezone

from alerts.engine.evaluator import hold_heartbeat
from monitoring_site import deadman
from monitoring_site.jobs import run_job
from monitoring_site.models import JobRun
from monitoring_site.outages import IntegrationCollector, read_shared
from tests.support.fake_vendors import HeartbeatServer

pytestmark = pytest.mark.django_db


def explode(*args: Any) -> None:
    raise RuntimeError("the database went away")


@pytest.fixture
def switch(settings: Any) -> Iterator[HeartbeatServer]:
    with HeartbeatServer() as server:
        settings.DEADMANS_SWITCH_URL = server.ping_url
        settings.DEADMANS_SWITCH_TIMEOUT = 0.5
        deadman.HEALTH.succeeded()
        yield server
    deadman.HEALTH.succeeded()


def test_each_successful_evaluation_pings_the_switch(switch: HeartbeatServer) -> None:
    run_job("alerts.evaluate", lambda: "3 rules")
    run_job("alerts.evaluate", lambda: "3 rules")
    pings = switch.pings
    assert [(p.method, p.path) for p in pings] == [("GET", f"/ping/{switch.check}")] * 2
    assert pings[0].header("user-agent") == "tickettoken-monitoring"


def test_a_failed_evaluation_sends_no_ping(switch: HeartbeatServer) -> None:
    with pytest.raises(RuntimeError):
        run_job("alerts.evaluate", explode)
    assert switch.requests == []
    assert JobRun.objects.get(job="alerts.evaluate").outcome == "failure"


def test_a_cycle_that_fails_as_a_whole_fails_the_job_and_sends_no_ping(
    switch: HeartbeatServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The one seam: a cycle-wide failure (the rules cannot be read) is made to happen here.
    monkeypatch.setattr("alerts.engine.cycle.evaluable_rules", explode)
    with pytest.raises(RuntimeError, match="the database went away"):
        run_job("alerts.evaluate")
    run = JobRun.objects.get(job="alerts.evaluate")
    assert (run.outcome, run.error) == (
        "failure",
        "EvaluationFailed: RuntimeError: the database went away",
    )
    assert switch.requests == []


def test_a_real_evaluation_cycle_pings(switch: HeartbeatServer) -> None:
    # No evaluator beats here: the minute job evaluates itself (issue #19) and pings.
    assert run_job("alerts.evaluate") == "no evaluator: 0 rules, 0 errors, 0 changes"
    assert len(switch.pings) == 1


def test_the_minute_job_pings_while_the_evaluator_runs(switch: HeartbeatServer) -> None:
    assert hold_heartbeat(holder="the-evaluator", now=timezone.now())
    assert run_job("alerts.evaluate") == "the evaluator runs"
    assert len(switch.pings) == 1


def test_other_jobs_do_not_ping(switch: HeartbeatServer) -> None:
    run_job("metrics.host", lambda: None)
    assert switch.requests == []


def test_without_a_url_nothing_is_pinged(settings: Any) -> None:
    settings.DEADMANS_SWITCH_URL = ""
    assert deadman.ping(job="alerts.evaluate") is False


def test_a_hanging_switch_holds_the_job_no_longer_than_its_timeout_and_is_reported_once(
    switch: HeartbeatServer, caplog: pytest.LogCaptureFixture
) -> None:
    before = read_shared("deadmans_switch", "failures")
    switch.hang(seconds=10, times=2)
    switch.fail(503)
    caplog.set_level(logging.WARNING, logger="monitoring_site.outages")
    for _ in range(3):
        started = time.monotonic()
        run_job("alerts.evaluate", lambda: "ok")
        assert time.monotonic() - started < 0.5 + 0.4
    assert read_shared("deadmans_switch", "failures") - before == 3
    assert [r.getMessage() for r in caplog.records] == [
        "deadmans_switch unreachable: 127.0.0.1: TimeoutError (logged once until it recovers)"
    ]
    run_job("alerts.evaluate", lambda: "ok")
    assert len(switch.pings) == 1
    assert caplog.records[-1].getMessage().startswith("deadmans_switch reachable again after")
    figures = {f.name: f for f in IntegrationCollector().collect()}
    failures = {
        s.labels["integration"]: s.value for s in figures["monitoring_integration_failures"].samples
    }
    assert failures["deadmans_switch"] - before == 3
