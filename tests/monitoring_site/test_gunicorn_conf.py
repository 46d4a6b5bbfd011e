"""The gunicorn configuration reads the environment with the same strict readers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.monitoring_site.conftest import Run

KEYS = ("bind", "workers", "threads", "forwarded_allow_ips", "control_socket")
LOAD = (
    "import json, runpy;"
    "c = runpy.run_path('monitoring_site/gunicorn.conf.py');"
    f"print(json.dumps({{k: c[k] for k in {KEYS!r}}}))"
)


def load(run_django: Run, **env: str | None) -> dict:
    result = run_django(code=LOAD, **env)
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_defaults_bind_loopback_port_3017_and_trust_no_forwarded_proto(
    run_django: Run, tmp_path: Path
) -> None:
    config = load(run_django)
    assert config == {
        "bind": ["127.0.0.1:3017"],
        "workers": 2,
        "threads": 1,
        "forwarded_allow_ips": "",
        "control_socket": str(tmp_path / "gunicorn.ctl"),
    }


def test_port_concurrency_and_trusted_proxies_come_from_the_environment(run_django: Run) -> None:
    config = load(run_django, PORT="8080", WEB_CONCURRENCY="4", TRUSTED_PROXIES="1")
    assert (config["bind"], config["workers"], config["forwarded_allow_ips"]) == (
        ["127.0.0.1:8080"],
        4,
        "*",
    )


@pytest.mark.parametrize(
    ("bind", "expected"),
    [
        ("0.0.0.0:3017", ["0.0.0.0:3017"]),  # what the Docker image sets
        ("0.0.0.0", ["0.0.0.0:8080"]),  # a host alone listens on PORT
        ("[::]", ["[::]:8080"]),
        ("[::1]:9000", ["[::1]:9000"]),
        ("127.0.0.1, 10.1.2.3:9100", ["127.0.0.1:8080", "10.1.2.3:9100"]),
        ("unix:/run/monitoring.sock", ["unix:/run/monitoring.sock"]),
    ],
)
def test_bind_says_where_to_listen_instead_of_loopback(
    run_django: Run, bind: str, expected: list[str]
) -> None:
    assert load(run_django, BIND=bind, PORT="8080")["bind"] == expected


@pytest.mark.parametrize("bind", ["0.0.0.0:http", "::", "host:1:2", "0.0.0.0:70000", "unix:"])
def test_a_malformed_bind_stops_gunicorn_naming_it(run_django: Run, bind: str) -> None:
    result = run_django(code=LOAD, BIND=bind)
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("django.core.exceptions.ImproperlyConfigured: BIND")


def test_each_instance_has_its_own_control_socket_under_its_var_dir(
    run_django: Run, tmp_path: Path
) -> None:
    """Not ~/.gunicorn/gunicorn.ctl, which every gunicorn of the user would take from the others."""
    first = load(run_django, VAR_DIR=str(tmp_path / "one"))["control_socket"]
    second = load(run_django, VAR_DIR=str(tmp_path / "two"))["control_socket"]
    assert (first, second) == (
        str(tmp_path / "one" / "gunicorn.ctl"),
        str(tmp_path / "two" / "gunicorn.ctl"),
    )


@pytest.mark.parametrize(
    ("name", "value"), [("WEB_CONCURRENCY", "many"), ("PORT", "abc"), ("WEB_THREADS", "0")]
)
def test_a_bad_value_stops_gunicorn_naming_the_variable(
    run_django: Run, name: str, value: str
) -> None:
    result = run_django(code=LOAD, **{name: value})
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("django.core.exceptions.ImproperlyConfigured: ")
    assert name in last
