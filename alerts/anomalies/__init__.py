"""Seasonal anomaly detection over 5-minute rollups (issue #16): the numerical method.

See docs/anomalies.md. The interface:

- :func:`fit` a detector's history -> :class:`Model` (or :class:`Learning` when it is too short),
  at most once a day;
- :func:`score` new points against a fitted model (cheap: every 10 minutes);
- :func:`forecast` the next hours with their band.

Everything here is pure (numpy over arrays, no database): the job and the API call it.
"""

from __future__ import annotations

from alerts.anomalies.method import (
    DEFAULT_SENSITIVITY,
    SENSITIVITY_MAX,
    SENSITIVITY_MIN,
    STEP_SECONDS,
    Direction,
    ForecastPoint,
    History,
    Learning,
    Model,
    PointScore,
    Seasonality,
    band_width,
    fit,
    forecast,
    required_history,
    score,
)

__all__ = [
    "DEFAULT_SENSITIVITY",
    "SENSITIVITY_MAX",
    "SENSITIVITY_MIN",
    "STEP_SECONDS",
    "Direction",
    "ForecastPoint",
    "History",
    "Learning",
    "Model",
    "PointScore",
    "Seasonality",
    "band_width",
    "fit",
    "forecast",
    "required_history",
    "score",
]
