"""Scenario files: the built-in one is valid; every bad file names its line and problem."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from demo.scenario import BUILTIN, KINDS, ScenarioError, load_scenario, parse_scenario

GOOD = """\
name: payment trouble
description: payment goes down, then cards fail
incidents:
  - kind: service_down
    at: 30s
    duration: 4m
    service: payment
  - kind: payment_failures
    at: -5m
    duration: 10m
    rate: 0.5
  - kind: queue_backup
    at: 2m
    duration: 1h
"""


def test_a_good_file_gives_each_incident_its_offsets_parameters_and_line() -> None:
    scenario = parse_scenario(GOOD)
    assert scenario.name == "payment trouble"
    down, failures, queue = scenario.incidents
    assert (down.kind, down.start, down.duration, down.params) == (
        "service_down", 30.0, 240.0, {"service": "payment"},
    )  # fmt: skip
    assert (failures.start, failures.end, failures.params) == (-300.0, 300.0, {"rate": 0.5})
    assert queue.params == {"queue": "mint", "size": 2500}  # the kind's defaults
    assert [i.line for i in scenario.incidents] == [4, 8, 12]
    assert scenario.earliest == -300.0
    assert scenario.active(0) == [failures]
    assert scenario.active(150) == [down, failures, queue]


def test_the_builtin_scenario_is_valid_and_uses_every_kind_but_service_down() -> None:
    scenario = load_scenario(BUILTIN)
    kinds = {incident.kind for incident in scenario.incidents}
    assert kinds == set(KINDS) - {"service_down"}  # dependency_outage takes payment down


@pytest.mark.parametrize(
    ("text", "line", "problem"),
    [
        ("incidents:\n  - kind: meteor\n    at: 1m\n    duration: 1m\n", 2,
         "incidents[0].kind: unknown kind 'meteor'"),
        ("incidents:\n  - kind: service_down\n    at: 1m\n    duration: 1m\n"
         "    service: payment\n    colour: red\n", 6,
         "incidents[0] (service_down): unknown key 'colour'"),
        ("name: x\nstart: now\nincidents: []\n", 2, "scenario: unknown key 'start'"),
        ("incidents:\n  - kind: service_down\n    at: soon\n    duration: 1m\n", 3,
         "incidents[0].at: 'soon' is not a duration"),
        ("incidents:\n  - kind: service_down\n    at: 1m\n    duration: 1m\n", 2,
         "incidents[0].service: required"),
        ("incidents:\n  - kind: service_down\n    at: 1m\n    duration: 1m\n    service: mars\n",
         5, "incidents[0].service: unknown service 'mars'"),
        ("incidents:\n  - kind: payment_failures\n    at: 1m\n    duration: 1m\n    rate: 2\n",
         5, "incidents[0].rate: 2 is outside 0 to 1"),
        ("incidents:\n  - kind: refund_wave\n    at: 1m\n    duration: 0s\n", 4,
         "incidents[0].duration: must be positive"),
        ("incidents:\n  - kind: refund_wave\n    duration: 1m\n", 2,
         "incidents[0]: 'at' is required"),
        ("incidents:\n  - kind: refund_wave\n    at: 1m\n   duration: 1m\n", 4, "not valid YAML"),
        ("incidents: {kind: refund_wave}\n", 1, "incidents: expected a list of incidents"),
        ("name: only a name\n", 1, "scenario: 'incidents' is required"),
    ],
)  # fmt: skip
def test_a_bad_file_is_refused_naming_the_line_and_the_problem(
    text: str, line: int, problem: str
) -> None:
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(text, source="bad.yaml")
    assert caught.value.line == line
    assert str(caught.value).startswith(f"bad.yaml:{line}: {problem}")


def test_an_empty_file_is_refused() -> None:
    with pytest.raises(ScenarioError, match="the file is empty"):
        parse_scenario("")


def test_check_validates_a_file_and_exits(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text(GOOD)
    out = StringIO()
    call_command("simulate_platform", "--scenario", str(good), "--check", stdout=out)
    assert "scenario 'payment trouble' is valid, 3 incidents" in out.getvalue()


def test_check_of_a_bad_file_fails_with_the_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(GOOD.replace("rate: 0.5", "rate: lots"))
    with pytest.raises(CommandError, match=rf"^{bad}:11: incidents\[1\].rate: expected a number"):
        call_command("simulate_platform", "--scenario", str(bad), "--check")


def test_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="cannot read the file"):
        call_command("simulate_platform", "--scenario", str(tmp_path / "none.yaml"), "--check")
