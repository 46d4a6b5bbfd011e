"""The gunicorn configuration reads the environment with the same strict readers."""

from __future__ import annotations

import json

import pytest

from tests.monitoring_site.conftest import Run

LOAD = (
    "import json, runpy;"
    "c = runpy.run_path('monitoring_site/gunicorn.conf.py');"
    "print(json.dumps({k: c[k] for k in ('bind', 'workers', 'threads', 'forwarded_allow_ips')}))"
)


def load(run_django: Run, **env: str | None) -> dict:
    result = run_django(code=LOAD, **env)
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_defaults_bind_port_3017_and_trust_no_forwarded_proto(run_django: Run) -> None:
    config = load(run_django)
    assert config == {
        "bind": "0.0.0.0:3017",
        "workers": 2,
        "threads": 1,
        "forwarded_allow_ips": "",
    }


def test_port_concurrency_and_trusted_proxies_come_from_the_environment(run_django: Run) -> None:
    config = load(run_django, PORT="8080", WEB_CONCURRENCY="4", TRUSTED_PROXIES="1")
    assert (config["bind"], config["workers"], config["forwarded_allow_ips"]) == (
        "0.0.0.0:8080",
        4,
        "*",
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
