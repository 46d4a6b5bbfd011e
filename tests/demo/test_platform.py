"""The simulated services answer /health as the scenario says, on the ports they are given."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest
import requests

from demo.platform import PortInUse, SimulatedPlatform, dependents_of, health_answer
from demo.scenario import parse_scenario
from tests.demo.processes import free_block, is_free

SCENARIO = parse_scenario(
    "incidents:\n"
    "  - {kind: dependency_outage, at: 0s, duration: 1h, service: payment}\n"
    "  - {kind: service_slow, at: 0s, duration: 1h, service: search, latency: 1s}\n"
    "  - {kind: service_down, at: 2h, duration: 1h, service: auth}\n"
)


@pytest.fixture
def platform() -> Iterator[SimulatedPlatform]:
    running = SimulatedPlatform(
        base_port=free_block(21), incidents=SCENARIO.incidents, started=time.time()
    ).start()
    yield running
    running.stop()


def test_a_dependency_outage_takes_down_the_service_and_everything_behind_it() -> None:
    assert dependents_of("payment") == {"order", "marketplace"}
    assert dependents_of("blockchain") == {"minting", "transfer", "blockchain-indexer"}
    assert health_answer("payment", SCENARIO.incidents, 10).status == 503
    order = health_answer("order", SCENARIO.incidents, 10)
    assert (order.status, order.body["dependencies"]) == (503, {"payment": "down"})
    assert health_answer("order", SCENARIO.incidents, 3700).status == 200  # over


def test_every_service_but_the_monitor_answers_its_health_on_its_port(
    platform: SimulatedPlatform,
) -> None:
    assert len(platform.ports) == 20 and "monitoring" not in platform.ports
    assert platform.ports["api-gateway"] - platform.ports["auth"] == 20
    auth = requests.get(f"{platform.url('auth')}/health", timeout=5)
    payment = requests.get(f"{platform.url('payment')}/health", timeout=5)
    assert (auth.status_code, auth.json()["status"]) == (200, "ok")
    assert (payment.status_code, payment.json()["status"]) == (503, "error")
    started = time.monotonic()
    search = requests.get(f"{platform.url('search')}/health", timeout=5)
    assert search.json()["status"] == "degraded" and time.monotonic() - started >= 1.0


def test_a_taken_port_is_named_and_nothing_is_left_listening() -> None:
    base = free_block(21)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", base + 4))
        taken.listen()
        with pytest.raises(PortInUse, match=rf"port {base + 4} \(simulated payment service\)"):
            SimulatedPlatform(base_port=base, incidents=(), started=time.time()).start()
    assert is_free(base)
