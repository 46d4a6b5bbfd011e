"""Thin django-q2 entry points of the foundation."""

from __future__ import annotations

from monitoring_site.jobs import run_cleanups


def cleanup() -> dict[str, int]:
    """The daily retention job: every app's registered cleanups."""
    return run_cleanups()
