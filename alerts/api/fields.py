"""Durations in the API: ``"90s"``, ``"5m"``, ``"1h30m"``, ``"1d"`` or a number of seconds."""

from __future__ import annotations

import re
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

_PART = re.compile(r"(\d+)(w|d|h|m|s)")
_UNITS = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}
MAX_SECONDS = 35 * 86400


def parse_duration(text: str) -> int | None:
    """Seconds of a Prometheus-style duration, or None when it is not one."""
    text = text.strip()
    if text.isdigit():
        return int(text)
    if not text or _PART.sub("", text):
        return None
    return sum(int(n) * _UNITS[unit] for n, unit in _PART.findall(text))


def format_duration(seconds: int) -> str:
    """``3600`` -> ``"1h"``, ``5400`` -> ``"1h30m"``, ``0`` -> ``"0s"``."""
    if not seconds:
        return "0s"
    parts = []
    for unit in ("w", "d", "h", "m", "s"):
        count, seconds = divmod(seconds, _UNITS[unit])
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)


@extend_schema_field(
    {
        "type": "string",
        "pattern": "^(?:[0-9]+[wdhms])+$|^[0-9]+$",
        "description": 'A duration such as "90s", "5m", "1h30m", or seconds; at most 35 days.',
    }
)
class DurationSecondsField(serializers.Field):
    default_error_messages = {
        "invalid": 'Expected a duration such as "90s", "5m", "1h" or a number of seconds.',
        "range": "Must be between 0 and 35 days.",
    }

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool):
            self.fail("invalid")
        if isinstance(data, int | float):
            if data != int(data):
                self.fail("invalid")
            seconds: int | None = int(data)
        elif isinstance(data, str):
            seconds = parse_duration(data)
        else:
            seconds = None
        if seconds is None:
            self.fail("invalid")
        if not 0 <= seconds <= MAX_SECONDS:
            self.fail("range")
        return seconds

    def to_representation(self, value: int) -> str:
        return format_duration(int(value))
