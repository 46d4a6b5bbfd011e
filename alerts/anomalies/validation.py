"""Checks of a detector's fields, shared by the API serializer and the admin form.

Each check answers its problems keyed by the model field, so nothing is saved unless every field
is sound (the API answers 400 naming the field).
"""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings

from alerts.anomalies.method import (
    SENSITIVITY_MAX,
    SENSITIVITY_MIN,
    STEP_SECONDS,
    Seasonality,
    required_history,
)
from alerts.language import RuleError, parse
from alerts.language.tree import Selector, walk
from alerts.rules.validation import Problems, _channels, _located, expression_problem

MAX_WINDOW = 7 * 86_400  # the longest window the 5-minute rollups serve


def history_kept() -> timedelta:
    """How far back the 5-minute rollups a detector learns from are kept."""
    return timedelta(days=settings.METRICS_ROLLUP_5M_RETENTION_DAYS)


def detector_problems(values: dict[str, Any]) -> Problems:
    """Every problem of a detector's values (model field names); empty when it may be saved."""
    problems: Problems = {}
    checks = (_expression, _sensitivity, _history, _timezone, _channels_of)
    for run_check in checks:
        for field, message in run_check(values):
            problems.setdefault(field, []).append(message)
    return problems


def _expression(values: dict[str, Any]) -> list[tuple[str, str]]:
    text = (values.get("expression") or "").strip()
    if not text:
        return [("expression", "An expression is required.")]
    problem = expression_problem(text, scalar_only=True)
    if problem:
        return [("expression", problem)]
    try:
        tree = parse(text)
    except RuleError as exc:  # checked above; kept for the type checker's sake
        return [("expression", _located(exc))]
    selectors = [node for node in walk(tree) if isinstance(node, Selector)]
    if not selectors:
        return [("expression", "The expression reads no metric: a detector follows a series.")]
    return [("expression", message) for message in _window_problems(selectors)]


def _window_problems(selectors: list[Selector]) -> list[str]:
    found = []
    for selector in selectors:
        for what, seconds in (("window", selector.window), ("offset", selector.offset)):
            if seconds and seconds % STEP_SECONDS:
                found.append(
                    f"{selector.name}: the {what} must be a whole number of 5-minute steps "
                    "(5m, 15m, 1h...): a detector reads 5-minute rollups"
                )
        if selector.window and selector.window > MAX_WINDOW:
            found.append(f"{selector.name}: a window of at most 7 days")
    return found


def _sensitivity(values: dict[str, Any]) -> list[tuple[str, str]]:
    value = values.get("sensitivity")
    if value is None or isinstance(value, bool) or not isinstance(value, int | float):
        return [("sensitivity", "A number is required.")]
    if not (math.isfinite(value) and SENSITIVITY_MIN <= value <= SENSITIVITY_MAX):
        return [
            (
                "sensitivity",
                f"Must be between {SENSITIVITY_MIN:g} and {SENSITIVITY_MAX:g}, not {value:g}.",
            )
        ]
    return []


def _history(values: dict[str, Any]) -> list[tuple[str, str]]:
    kept = history_kept()
    seasonality = values.get("seasonality")
    if seasonality not in list(Seasonality):
        return [("seasonality", f"Expected one of {', '.join(Seasonality)}.")]
    found = []
    needed = required_history(Seasonality(seasonality))
    if needed > kept:
        found.append(
            (
                "seasonality",
                f"{seasonality} needs {needed.days} days of history; the 5-minute rollups are "
                f"kept {kept.days} days (METRICS_ROLLUP_5M_RETENTION_DAYS).",
            )
        )
    minimum = values.get("minimum_history_seconds") or 0
    if minimum > kept.total_seconds():
        found.append(
            (
                "minimum_history_seconds",
                f"Longer than the history kept ({kept.days} days of 5-minute rollups).",
            )
        )
    return found


def _timezone(values: dict[str, Any]) -> list[tuple[str, str]]:
    name = values.get("timezone") or ""
    try:
        ZoneInfo(str(name))
    except (ZoneInfoNotFoundError, ValueError):
        return [("timezone", f"{name!r} is not a time zone name (e.g. UTC, Europe/Paris).")]
    return []


def _channels_of(values: dict[str, Any]) -> list[tuple[str, str]]:
    return _channels(values, False)
