"""The hand-off of rounds and state changes to whoever listens (the alert engine), after commit.

``health`` knows nothing of ``alerts``: the alerts app registers handlers in its
``AppConfig.ready()``. Once a round's transaction has committed, each state-change handler is
called with each new :class:`StateChange`, then each round handler with the whole
:class:`CompletedRound`, so a listener can decide from the current graph every round rather than
only when a state moves. A failing handler is logged and never breaks a round.

It also carries *providers*: facts another app owns that health's pages show, registered the
same way and read without importing it: *notices* (the alerts app's "alerts that reach no
channel" warning) and named *facts* (the open alerts, the maintenance windows in force).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from health.models import StateChange

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CompletedRound:
    """A committed round: when it checked, and the state changes it caused (maybe none)."""

    checked_at: datetime
    changes: list[StateChange] = field(default_factory=list)


StateChangeHandler = Callable[["StateChange"], None]
RoundHandler = Callable[[CompletedRound], None]
_handlers: list[StateChangeHandler] = []
_round_handlers: list[RoundHandler] = []


def register_state_change_handler(handler: StateChangeHandler) -> None:
    """Call ``handler(change)`` for every new state change (idempotent per handler)."""
    if handler not in _handlers:
        _handlers.append(handler)


def unregister_state_change_handler(handler: StateChangeHandler) -> None:
    if handler in _handlers:
        _handlers.remove(handler)


def registered_handlers() -> list[StateChangeHandler]:
    return list(_handlers)


def dispatch(changes: Iterable[StateChange]) -> None:
    """Hand each change to each handler; an exception is logged, the rest still run."""
    for change in changes:
        for handler in list(_handlers):
            try:
                handler(change)
            except Exception:
                logger.exception(
                    "state change handler failed",
                    extra={
                        "handler": getattr(handler, "__qualname__", repr(handler)),
                        "service_id": change.service_id,
                        "to_state": change.to_state,
                    },
                )


def register_round_handler(handler: RoundHandler) -> None:
    """Call ``handler(completed_round)`` after every committed round (idempotent per handler)."""
    if handler not in _round_handlers:
        _round_handlers.append(handler)


def unregister_round_handler(handler: RoundHandler) -> None:
    if handler in _round_handlers:
        _round_handlers.remove(handler)


def round_completed(completed: CompletedRound) -> None:
    """After commit: the state changes to their handlers, then the round to the round handlers."""
    dispatch(completed.changes)
    for handler in list(_round_handlers):
        try:
            handler(completed)
        except Exception:
            logger.exception(
                "round handler failed",
                extra={
                    "handler": getattr(handler, "__qualname__", repr(handler)),
                    "checked_at": completed.checked_at.isoformat(),
                },
            )


# --- notices: facts other apps own that health's pages (and the admin) show ----------------------

Notice = dict[str, Any]  # {"code", "level", "title", "message", "fix", "link"}
NoticeProvider = Callable[[], list[Notice]]
_notice_providers: list[NoticeProvider] = []


def register_notice_provider(provider: NoticeProvider) -> None:
    """Show what ``provider()`` returns on the dashboard, ``/health/detailed`` and the admin."""
    if provider not in _notice_providers:
        _notice_providers.append(provider)


def unregister_notice_provider(provider: NoticeProvider) -> None:
    if provider in _notice_providers:
        _notice_providers.remove(provider)


def notices() -> list[Notice]:
    """Every registered provider's current notices; a failing provider is logged and left out."""
    found: list[Notice] = []
    for provider in list(_notice_providers):
        try:
            found.extend(provider())
        except Exception:
            logger.exception(
                "notice provider failed",
                extra={"provider": getattr(provider, "__qualname__", repr(provider))},
            )
    return found


# --- facts: what another app owns that health's pages and /health show ---------------------------
# The alerts app provides the open alerts (for the dashboard) and the maintenance windows in
# force; health reads them by name and never imports alerts. A missing provider means "none".

# -> list of {"id", "rule", "severity", "state", "since", "labels", "service", "summary",
#             "acknowledged_by", "url"}, the most severe first
OPEN_ALERTS = "open_alerts"
MAINTENANCE_WINDOWS = "maintenance_windows"  # -> list of {"id", "name", "services", "ends_at"}
# -> list of {"id", "name", "status", "message", "severity", "alert", "since", "observed",
#    "expected"}: each anomaly detector, "anomalous" while its alert is open
ANOMALIES = "anomalies"
FactProvider = Callable[[datetime], list[dict[str, Any]]]
_fact_providers: dict[str, FactProvider] = {}


def register_fact_provider(name: str, provider: FactProvider) -> None:
    """Answer ``facts(name, now)`` with ``provider(now)`` (one provider per name)."""
    _fact_providers[name] = provider


def unregister_fact_provider(name: str) -> None:
    _fact_providers.pop(name, None)


def facts(name: str, now: datetime) -> list[dict[str, Any]]:
    """What the provider of ``name`` reports at ``now``; empty without a provider or on failure."""
    provider = _fact_providers.get(name)
    if provider is None:
        return []
    try:
        return provider(now)
    except Exception:
        logger.exception("fact provider failed", extra={"fact": name})
        return []
