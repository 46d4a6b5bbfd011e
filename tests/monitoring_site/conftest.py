"""Fixtures of the foundation's tests: fast password hashing, a superuser, start-up subprocesses."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import User

from tests.conftest import PASSWORD

BASE_DIR = Path(settings.BASE_DIR)
PYTHON = sys.executable

Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    """Login tests hash many passwords; MD5 keeps them fast (the hasher is not under test)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def superuser(db: Any) -> User:
    return User.objects.create_superuser(username="sam-super", password=PASSWORD, email="")


def production_env(var_dir: Path, **overrides: str | None) -> dict[str, str]:
    """A clean environment like a production deployment's: no DEBUG, real secrets, own VAR_DIR.

    Nothing leaks in from the test run (DATABASE_URL, REDIS_URL, ...) nor from the checkout's
    .env; ``None`` removes a name.
    """
    env = {
        "PYTHON_DOTENV_DISABLED": "1",
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        "LANG": "C.UTF-8",
        "DJANGO_SETTINGS_MODULE": "monitoring_site.settings",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "JWT_SECRET": secrets.token_urlsafe(50),
        "VAR_DIR": str(var_dir),
        "ALLOWED_HOSTS": "monitoring.example.com",
        "SITE_URL": "https://monitoring.example.com",
    }
    for name, value in overrides.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


@pytest.fixture
def run_django(tmp_path: Path) -> Run:
    """Run ``manage.py <args>`` (or ``python -c``) in a fresh process with a production-like env."""

    def run(*args: str, code: str | None = None, **env: str | None) -> subprocess.CompletedProcess:
        command = [PYTHON, "-c", code] if code is not None else [PYTHON, "manage.py", *args]
        return subprocess.run(
            command,
            env=production_env(tmp_path, **env),
            cwd=BASE_DIR,
            capture_output=True,
            text=True,
            timeout=120,
        )

    return run
