"""Durations in the API: ``"90s"``, ``"5m"``, ``"1h30m"``, ``"1d"`` or a number of seconds."""

from __future__ import annotations

import math
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from monitoring_site.api.params import ParameterError, format_duration, parse_duration

MAX_SECONDS = 35 * 86400

__all__ = ["MAX_SECONDS", "DurationSecondsField", "format_duration", "parse_duration"]


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
        if isinstance(data, bool) or not isinstance(data, int | float | str):
            self.fail("invalid")
        if isinstance(data, str):
            try:
                seconds = parse_duration(data)
            except ParameterError:
                self.fail("invalid")
        elif isinstance(data, float) and not (math.isfinite(data) and data.is_integer()):
            self.fail("invalid")  # a fraction, or a JSON number too large for a float
        else:
            seconds = int(data)
        if not 0 <= seconds <= MAX_SECONDS:
            self.fail("range")
        return seconds

    def to_representation(self, value: int) -> str:
        return format_duration(int(value))
