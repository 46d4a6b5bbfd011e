"""Probe kinds: one class per kind with one ``check`` method, registered by kind.

Adding a kind is one class decorated with :func:`register`; the round, the API validation and
the admin pick it up from :data:`PROBES`.
"""

from __future__ import annotations

from health.probes import datastores, http, monitor, solana, tcp  # noqa: F401  (register)
from health.probes.base import (
    PROBES,
    Probe,
    ProbeResult,
    ProbeSession,
    ProbeTarget,
    get_probe,
    register,
)

__all__ = [
    "PROBES",
    "Probe",
    "ProbeResult",
    "ProbeSession",
    "ProbeTarget",
    "get_probe",
    "register",
]
