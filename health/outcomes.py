"""The one vocabulary of health: what a probe found (``Outcome``) and what a service is (``State``).

Probes, rounds, selectors, the dashboard and ``/health`` all use these; no module spells ``"up"``
or ``"down"`` itself. Kept apart from the models so that probes import it without the ORM.
"""

from __future__ import annotations

from django.db import models


class Outcome(models.TextChoices):
    """What one check found."""

    UP = "up"
    DEGRADED = "degraded"
    DOWN = "down"


class State(models.TextChoices):
    """What a service is, after its thresholds: an outcome, or unknown before enough checks."""

    UP = "up"
    DEGRADED = "degraded"
    DOWN = "down"
    UNKNOWN = "unknown"


# Outcomes that answered (a latency counts, the service counts as available).
ANSWERED = (Outcome.UP, Outcome.DEGRADED)
