"""Domain errors of metric storage: what a service refuses and why (the API answers 400)."""

from __future__ import annotations

from typing import Any


class SamplesRejected(Exception):
    """The batch was refused as a whole and nothing was stored.

    ``code`` is the machine code the API answers with (``series_limit``, ``invalid``) and
    ``details`` names what was wrong, per metric or per sample.
    """

    code = "invalid"

    def __init__(self, message: str, *, details: dict[str, Any]) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class SeriesLimitExceeded(SamplesRejected):
    """A metric (or a service's share of it) would have more label sets than its limit."""

    code = "series_limit"


class TotalWouldOverflow(SamplesRejected):
    """A stored cumulative total would overflow to infinity."""
