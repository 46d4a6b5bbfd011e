"""Checks of a rule's fields, shared by the API serializer and the admin form.

Each check answers the problems it found as messages keyed by the model field, so that nothing
is saved unless every field is sound.
"""

from __future__ import annotations

import math
import re
from typing import Any

from alerts.channels import CHANNEL_KINDS
from alerts.language import RuleError, check
from alerts.models.rules import ANNOTATION_KEYS, placeholder_problems

LABEL_NAME_RE = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*\Z")
MAX_LABEL_VALUE = 128
Problems = dict[str, list[str]]


def expression_problem(text: str, *, scalar_only: bool = False) -> str | None:
    """The rule language's verdict on ``text``, with the position of the mistake."""

    try:
        info = check(text)
    except RuleError as exc:
        return _located(exc)
    if scalar_only and info.type not in ("scalar", "vector"):
        return f"expected a number, got a {info.type}"
    return None


def _located(error: Any) -> str:
    message = getattr(error, "message", "") or str(error)
    line, column = getattr(error, "line", None), getattr(error, "column", None)
    if line is not None and column is not None:
        return f"{message} (line {line}, column {column})"
    return message


def rule_problems(values: dict[str, Any], *, builtin: bool = False) -> Problems:
    """Every problem of a rule's values (model field names); empty when the rule may be saved."""
    problems: Problems = {}
    checks = (
        _expression,
        _threshold,
        _durations,
        _annotations,
        _labels,
        _channels,
        _guard,
    )
    for run_check in checks:
        for field, message in run_check(values, builtin):
            problems.setdefault(field, []).append(message)
    return problems


def _expression(values: dict[str, Any], builtin: bool) -> list[tuple[str, str]]:
    text = (values.get("expression") or "").strip()
    if builtin:
        return [("expression", "The built-in rule has no expression.")] if text else []
    if not text:
        return [("expression", "An expression is required.")]
    problem = expression_problem(text)
    return [("expression", problem)] if problem else []


def _threshold(values: dict[str, Any], builtin: bool) -> list[tuple[str, str]]:
    threshold = values.get("threshold")
    if threshold is None:
        return [] if builtin else [("threshold", "A number is required.")]
    if isinstance(threshold, bool) or not isinstance(threshold, int | float):
        return [("threshold", "A number is required.")]
    if not math.isfinite(threshold):
        return [("threshold", "The threshold must be a finite number.")]
    return []


def _durations(values: dict[str, Any], builtin: bool) -> list[tuple[str, str]]:
    # Any ``for`` of 0 or more: the evaluator schedules an evaluation at the instant it ends.
    found = []
    for name in ("for_seconds", "keep_firing_for_seconds", "cooldown_seconds"):
        value = values.get(name)
        if value is not None and value < 0:
            found.append((name, "Must not be negative."))
    return found


def _annotations(values: dict[str, Any], builtin: bool) -> list[tuple[str, str]]:
    annotations = values.get("annotations") or {}
    if not isinstance(annotations, dict):
        return [("annotations", "Expected an object with summary and description.")]
    found = []
    for key, text in annotations.items():
        if key not in ANNOTATION_KEYS:
            found.append(("annotations", f"Unknown annotation {key!r}: use summary, description."))
        elif not isinstance(text, str):
            found.append(("annotations", f"{key}: expected text."))
        else:
            unknown = placeholder_problems(text)
            if unknown:
                found.append(
                    (
                        "annotations",
                        f"{key}: unknown placeholder {', '.join(unknown)}; "
                        "use {value}, {threshold} or {labels.NAME}.",
                    )
                )
    return found


def _labels(values: dict[str, Any], builtin: bool) -> list[tuple[str, str]]:
    labels = values.get("labels") or {}
    if not isinstance(labels, dict):
        return [("labels", "Expected an object of label names to values.")]
    found = []
    for name, value in labels.items():
        if not LABEL_NAME_RE.match(str(name)) or str(name).startswith("__"):
            found.append(("labels", f"{name!r} is not a valid label name."))
        elif not isinstance(value, str) or len(value) > MAX_LABEL_VALUE:
            found.append(("labels", f"{name}: expected text of at most 128 characters."))
    return found


def _channels(values: dict[str, Any], builtin: bool) -> list[tuple[str, str]]:
    channels = values.get("channels")
    if channels is None:
        return []
    if not isinstance(channels, list):
        return [("channels", f"Expected a list of channel kinds ({', '.join(CHANNEL_KINDS)}).")]
    unknown = [str(kind) for kind in channels if kind not in CHANNEL_KINDS]
    if unknown:
        return [
            (
                "channels",
                f"Unknown channel {', '.join(unknown)}; expected {', '.join(CHANNEL_KINDS)}.",
            )
        ]
    if len(set(channels)) != len(channels):
        return [("channels", "A channel is listed twice.")]
    return []


def _guard(values: dict[str, Any], builtin: bool) -> list[tuple[str, str]]:
    text = (values.get("min_volume_expression") or "").strip()
    minimum = values.get("min_volume")
    if not text:
        return [("min_volume_expression", "Give the guard expression too.")] if minimum else []
    problem = expression_problem(text, scalar_only=True)
    if problem:
        return [("min_volume_expression", problem)]
    if minimum is None or isinstance(minimum, bool) or not isinstance(minimum, int | float):
        return [("min_volume", "A number is required with a volume guard.")]
    if not math.isfinite(minimum):
        return [("min_volume", "Must be a finite number.")]
    return []
