"""Business figures read through a Prometheus-compatible backend (issue #20).

The same pushes are written here and to a real VictoriaMetrics and Prometheus (see
tests/alerts/language/backend_scenario.py). All-time figures are the sums of the latest values
and agree exactly; window figures go through ``increase`` and agree within 2 % once the window
holds data from before its start (docs/rules.md: business windows are approximate there).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.conf import LazySettings
from rest_framework.test import APIClient

from metrics_app import backend as remote
from metrics_app.selectors import counter_sums
from tests.alerts.language.backend_scenario import TOLERANCE, Scenario, build
from tests.support.tsdb import Prometheus, VictoriaMetrics, free_port, load

BUSINESS = "/api/business-metrics"


@pytest.fixture(scope="module")
def scenario() -> Scenario:
    return build()


@pytest.fixture(scope="module", params=["prometheus", "victoria"])
def database(
    request: pytest.FixtureRequest, scenario: Scenario, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Prometheus | VictoriaMetrics]:
    kind = Prometheus if request.param == "prometheus" else VictoriaMetrics
    with kind(tmp_path_factory.mktemp(request.param)) as server:
        load(server, scenario.remote)
        yield server


def through(settings: LazySettings, url: str) -> None:
    settings.METRICS_BACKEND = remote.PROMETHEUS
    settings.METRICS_BACKEND_URL = url


def test_all_time_business_figures_are_the_same_through_the_backend(
    scenario: Scenario,
    database: Prometheus | VictoriaMetrics,
    viewer_client: APIClient,
    settings: LazySettings,
) -> None:
    scenario.store_embedded()
    here = viewer_client.get(BUSINESS).json()
    through(settings, database.url)
    there = viewer_client.get(BUSINESS)
    assert there.status_code == 200, there.json()
    assert there.json() == here
    pushes = len(scenario.pushes)
    assert here["totalTicketsSold"] == pushes * (1 + 2 + 5)


def test_a_window_of_counters_through_the_backend_agrees_within_the_tolerance(
    scenario: Scenario, database: Prometheus | VictoriaMetrics, settings: LazySettings, db: Any
) -> None:
    scenario.store_embedded()
    start, end = scenario.at - timedelta(minutes=10), scenario.at + timedelta(milliseconds=500)
    here = counter_sums(["tickets_sold_total", "errors_total"], start=start, end=end)
    through(settings, database.url)
    there = counter_sums(["tickets_sold_total", "errors_total"], start=start, end=end)
    assert sorted(there) == sorted(here) == ["errors_total", "tickets_sold_total"]
    assert here["tickets_sold_total"] == 40 * 8  # 4 pushes a minute of 1 + 2 + 5 tickets
    for name, value in here.items():
        assert math.isclose(there[name], value, rel_tol=TOLERANCE), name


def test_the_business_endpoint_answers_503_when_the_backend_is_down(
    viewer_client: APIClient, settings: LazySettings
) -> None:
    through(settings, f"http://127.0.0.1:{free_port()}")
    response = viewer_client.get(BUSINESS, {"window": "1h"})
    assert response.status_code == 503
    assert response.json()["code"] == "metrics_backend_unavailable"
    assert viewer_client.get(BUSINESS, {"window": "2h"}).status_code == 400
