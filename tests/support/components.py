"""Components a test needs from the machine: skip with an install hint, or fail under CI."""

from __future__ import annotations

import os
import shutil

import pytest

HINTS = {
    "chromium": "apt-get install chromium",
    "promtool": "apt-get install prometheus",
    "prometheus": "apt-get install prometheus",
    "victoria-metrics": "apt-get install victoria-metrics",
}


def require_binary(name: str, path: str | None = None) -> str:
    """The path of ``name``; a missing one skips the test locally and fails it under CI=true."""
    found = path if path and os.path.exists(path) else shutil.which(name)
    if found:
        return found
    message = f"{name} is not installed: {HINTS.get(name, f'install {name}')}"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)
    raise AssertionError("unreachable")
