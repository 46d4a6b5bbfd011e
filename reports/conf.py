"""Settings of reports, read from the environment (imported into monitoring_site.settings)."""

from __future__ import annotations

from monitoring_site.env import env_int  # noqa: F401
