"""Sections another app fills: the anomalies of a day, provided by anomaly detection.

``reports`` never imports the app that detects anomalies: that app registers a provider in its
``AppConfig.ready()``. Without one the report says that anomaly detection is not enabled.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

logger = logging.getLogger(__name__)

# provider(start, end) -> {"enabled": True, "items": [{...}, ...]} for the day [start, end)
AnomalyProvider = Callable[[datetime, datetime], dict[str, Any]]
_anomaly_providers: list[AnomalyProvider] = []
NOT_ENABLED = "Anomaly detection is not enabled: no detector reports to this service yet."


def register_anomaly_provider(provider: AnomalyProvider) -> None:
    if provider not in _anomaly_providers:
        _anomaly_providers.append(provider)


def unregister_anomaly_provider(provider: AnomalyProvider) -> None:
    if provider in _anomaly_providers:
        _anomaly_providers.remove(provider)


def anomalies(start: datetime, end: datetime) -> dict[str, Any]:
    """The anomalies section of the day: from the provider, or a note that there is none."""
    if not _anomaly_providers:
        return {"enabled": False, "note": NOT_ENABLED, "items": []}
    items: list[dict[str, Any]] = []
    enabled = False
    for provider in list(_anomaly_providers):
        try:
            section = provider(start, end)
        except Exception:
            logger.exception("anomaly provider failed", extra={"provider": repr(provider)})
            return {"enabled": True, "note": "Anomalies could not be read.", "items": []}
        items.extend(section.get("items", []))
        enabled = enabled or bool(section.get("enabled", True))
    if not enabled:  # registered, but no detector is set up
        return {"enabled": False, "note": NOT_ENABLED, "items": []}
    return {"enabled": True, "note": "", "items": items}
