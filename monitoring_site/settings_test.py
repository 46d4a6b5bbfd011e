"""Settings of the test suite (pytest's ``DJANGO_SETTINGS_MODULE``, see pyproject.toml).

The production settings, read with ``TESTING`` on: per-worker test databases and cache keys,
``testserver`` among the allowed hosts, no HTTPS redirect, relaxed secrets. Processes a test
starts inherit ``TESTING`` from here unless the test gives them their own environment.
"""

from __future__ import annotations

import os

os.environ["TESTING"] = "true"

from monitoring_site.settings import *  # noqa: F403
