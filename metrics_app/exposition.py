"""GET /metrics: the catalogue, every stored series, and the service's own metrics.

Other apps add collectors fed from rows (evaluation cycles, notification outcomes) with
:func:`register_collector`, called from their ``AppConfig.ready()``. A collector must define
``describe()`` returning ``[]`` so that registering it does not query the database.
"""

from __future__ import annotations

import threading
from typing import Any

_collectors: list[Any] = []
_lock = threading.Lock()


def register_collector(collector: Any) -> None:
    """Add a prometheus_client collector (an object with ``collect()``) to /metrics; idempotent."""
    with _lock:
        if collector not in _collectors:
            _collectors.append(collector)


def registered_collectors() -> list[Any]:
    with _lock:
        return list(_collectors)
