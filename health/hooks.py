"""The hand-off of state changes to whoever listens (the alert engine), after commit.

``health`` knows nothing of ``alerts``: the alerts app registers a handler in its
``AppConfig.ready()``, and each round calls every handler with each new :class:`StateChange`
once the round's transaction has committed. A failing handler is logged and never breaks a round.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from health.models import StateChange

logger = logging.getLogger(__name__)

StateChangeHandler = Callable[["StateChange"], None]
_handlers: list[StateChangeHandler] = []


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
