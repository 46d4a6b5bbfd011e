"""The Docker image and compose file start what `make run` starts (Docker does not run here)."""

from __future__ import annotations

import json
import os
import shlex
from pathlib import Path

import yaml

from tests.monitoring_site.conftest import BASE_DIR, Run


def dockerfile_instructions(name: str) -> list[str]:
    """The arguments of every ``name`` instruction, continuation lines joined."""
    text = (BASE_DIR / "Dockerfile").read_text().replace("\\\n", " ")
    return [
        line.split(None, 1)[1].strip()
        for line in text.splitlines()
        if line.split(None, 1)[:1] == [name]
    ]


def image_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for arguments in dockerfile_instructions("ENV"):
        for item in shlex.split(arguments):
            name, _, value = item.partition("=")
            env[name] = value
    return env


def is_script(command: str) -> bool:
    path = BASE_DIR / command
    return path.is_file() and os.access(path, os.X_OK)


def test_a_single_docker_run_starts_the_web_server_the_worker_and_the_evaluator() -> None:
    [cmd] = dockerfile_instructions("CMD")
    assert json.loads(cmd) == ["bin/run"]
    run = (BASE_DIR / "bin/run").read_text()
    parts = ("bin/prepare", "bin/web &", "bin/worker &", "bin/evaluator &")
    assert all(part in run for part in parts)
    assert 'wait -n "$web" "$worker" "$evaluator"' in run


def test_compose_keeps_web_and_worker_as_separate_services_with_their_own_commands() -> None:
    services = yaml.safe_load((BASE_DIR / "docker-compose.yml").read_text())["services"]
    assert services["web"]["command"] == ["bash", "-c", "bin/prepare && exec bin/web"]
    assert services["worker"]["command"] == ["bin/worker"]
    assert services["evaluator"]["command"] == ["bin/evaluator"]
    scripts = ("bin/run", "bin/prepare", "bin/web", "bin/worker", "bin/evaluator")
    assert all(is_script(name) for name in scripts)
    evaluator = (BASE_DIR / "bin/evaluator").read_text()
    assert "manage.py run_evaluator" in evaluator


def test_the_image_listens_beyond_loopback_and_keeps_generated_secrets_in_var(
    run_django: Run, tmp_path: Path
) -> None:
    env = image_env()
    assert env["ENV_FILE"].startswith(env["VAR_DIR"] + "/")  # the writable, mountable directory
    result = run_django(
        code="import runpy; print(runpy.run_path('monitoring_site/gunicorn.conf.py')['bind'])",
        BIND=env["BIND"],
        PORT=env["PORT"],
    )
    assert result.stdout.strip() == "['0.0.0.0:3017']", result.stderr[-2000:]


def test_the_image_never_contains_a_developers_env_file_or_data() -> None:
    ignored = (BASE_DIR / ".dockerignore").read_text().split()
    assert {".env", "var/", ".venv/"} <= set(ignored)
