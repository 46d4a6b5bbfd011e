"""bin/fuzz-api's promises that need no fuzzing to check: what it seeds reaches loopback only,
and the endpoints that would reach further (or end its own session) are left out."""

from __future__ import annotations

import importlib.util
import io
import json
import re
from contextlib import redirect_stdout
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import Group
from rest_framework.test import APIClient

from health.bootstrap import seed
from health.models import Service
from monitoring_site.roles import Role


def _load() -> ModuleType:
    path = Path(settings.BASE_DIR) / "bin" / "fuzz_api.py"
    spec = importlib.util.spec_from_file_location("fuzz_api", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


fuzz_api = _load()


@pytest.mark.django_db
def test_the_seed_points_every_target_at_loopback_and_mints_both_tokens(settings: Any) -> None:
    settings.PLATFORM_DATABASE_URL = "postgres://app@db.internal:5432/app"
    settings.PLATFORM_REDIS_URL = "redis://cache.internal:6379/0"
    settings.SOLANA_RPC_URL = "https://solana.example:8899"
    for role in Role:
        Group.objects.get_or_create(name=role.group_name)
    seed(lambda line: None)
    assert Service.objects.exclude(kind="monitor").count() == 24

    out = io.StringIO()
    with redirect_stdout(out):
        exec(f"ROLES = {fuzz_api.ROLES!r}\n{fuzz_api.SEED}", {})  # noqa: S102 (our own code)
    tokens = json.loads(out.getvalue().strip().splitlines()[-1])

    hosts = {
        kind: re.sub(r":\d+", ":<port>", target)
        for kind, target in Service.objects.exclude(kind="monitor").values_list("kind", "target")
    }
    assert hosts == {
        "http": "http://127.0.0.1:<port>",
        "postgres": "postgres://fuzz@127.0.0.1:<port>/fuzz",
        "redis": "redis://127.0.0.1:<port>/0",
        "solana_rpc": "http://127.0.0.1:<port>",
    }
    for role, token in tokens.items():
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        assert client.get("/api/auth/me").json()["role"] == role


@pytest.mark.parametrize(
    ("path", "excluded"),
    [
        ("/api/v1/monitoring/health/check", True),
        ("/api/v1/monitoring/health/check/", True),
        ("/api/auth/logout-all/", True),
        ("/api/v1/monitoring/health/detailed/", False),
        ("/api/v1/monitoring/services/{id}/history/", False),
    ],
)
def test_the_on_demand_health_round_is_never_fuzzed(path: str, excluded: bool) -> None:
    assert bool(re.search(fuzz_api.EXCLUDED_PATHS, path)) is excluded


def test_the_server_environment_carries_no_integration(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SLACK_WEBHOOK_URL", "https://hooks.slack.example/T/B/x")
    monkeypatch.setenv("AUTH_SERVICE_URL", "http://10.0.0.1:3000")
    monkeypatch.setenv("SMTP_HOST", "smtp.example")

    env = fuzz_api.server_env("postgres://postgres@127.0.0.1:5432/fuzz", tmp_path)

    assert not {"SLACK_WEBHOOK_URL", "AUTH_SERVICE_URL", "SMTP_HOST"} & set(env)
    assert (env["DEBUG"], env["ALLOWED_HOSTS"], env["DATABASE_URL"]) == (
        "false",
        "127.0.0.1",
        "postgres://postgres@127.0.0.1:5432/fuzz",
    )
