"""Values every API parses the same way: date-times, durations and ids, in ASCII only.

``str.isdigit()`` and ``int()`` accept digits of other scripts (``"¹".isdigit()`` is True and
``int("¹")`` raises; ``int("٣")`` is 3), so every number here is matched by ``[0-9]`` before it is
converted, and its length is bounded before ``int()`` sees it. A date-time must carry its UTC
offset: a naive time is ambiguous, so it is refused rather than guessed (docs/api.md, "Times").
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, TypeVar

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import exceptions, serializers
from rest_framework.request import Request

MAX_ID = 2**63 - 1  # beyond any row (and beyond what SQLite can bind)
UNITS = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}
EXAMPLE_TIME = "2026-11-29T12:00:00Z"

_ID = re.compile(r"[0-9]{1,19}")
_SECONDS = re.compile(r"[0-9]{1,12}")
_DURATION = re.compile(r"(?:[0-9]{1,12}[wdhms])+")
_DURATION_PART = re.compile(r"([0-9]{1,12})([wdhms])")
_EPOCH = re.compile(r"-?[0-9]{1,12}(?:\.[0-9]{1,9})?")
_DATETIME = re.compile(
    r"(?P<year>[0-9]{4})-(?P<month>[0-9]{2})-(?P<day>[0-9]{2})[Tt ]"
    r"(?P<hour>[0-9]{2}):(?P<minute>[0-9]{2})"
    r"(?::(?P<second>[0-9]{2})(?:[.,](?P<fraction>[0-9]{1,9}))?)?"
    r"(?P<offset>[Zz]|[+-][0-9]{2}(?::?[0-9]{2})?)?"
)
# "+02:00" in a query string arrives as " 02:00" when the client did not encode the "+".
_SPACED_OFFSET = re.compile(r"(?<=[0-9]:[0-9]{2}) (?=[0-9]{2}:?[0-9]{2}$)")

T = TypeVar("T")


class ParameterError(ValueError):
    """A value the parameter does not take; the message says what it expects."""


def parse_id(raw: str) -> int:
    """A row id: ASCII digits, at most ``MAX_ID``."""
    text = raw.strip()
    if not _ID.fullmatch(text) or int(text) > MAX_ID:
        raise ParameterError(f"Expected an id (a whole number from 0 to {MAX_ID}).")
    return int(text)


def path_id(raw: str) -> int:
    """An id from the URL: 404 when no row can have it (the path names a thing, not a field)."""
    try:
        return parse_id(raw)
    except ParameterError:
        raise exceptions.NotFound() from None


def parse_duration(text: str) -> int:
    """Seconds of ``"90s"``, ``"5m"``, ``"1h30m"``, ``"1d"``, ``"2w"`` or ``"300"`` (seconds)."""
    text = text.strip()
    if _SECONDS.fullmatch(text):
        return int(text)
    if not _DURATION.fullmatch(text):
        raise ParameterError(
            'Expected a duration such as "90s", "5m", "1h30m", "1d" or a number of seconds.'
        )
    return sum(int(amount) * UNITS[unit] for amount, unit in _DURATION_PART.findall(text))


def format_duration(seconds: int) -> str:
    """``3600`` -> ``"1h"``, ``5400`` -> ``"1h30m"``, ``0`` -> ``"0s"``."""
    if not seconds:
        return "0s"
    parts = []
    for unit in ("w", "d", "h", "m", "s"):
        count, seconds = divmod(seconds, UNITS[unit])
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)


def parse_datetime(raw: Any) -> datetime:
    """RFC 3339 text with an offset, or epoch seconds (a number or its text), as aware UTC."""
    if type(raw) is float or type(raw) is int:  # the common case first (never a bool)
        return _from_epoch(float(raw))
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        raise ParameterError(f"Expected RFC 3339 text (e.g. {EXAMPLE_TIME}) or epoch seconds.")
    if isinstance(raw, str):
        text = raw.strip()
        if _EPOCH.fullmatch(text):
            return _from_epoch(float(text))
        return _from_text(_SPACED_OFFSET.sub("+", text))
    return _from_epoch(float(raw))


def _from_epoch(seconds: float) -> datetime:
    if not math.isfinite(seconds):
        raise ParameterError("Expected a finite number of epoch seconds.")
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        raise ParameterError("Epoch seconds out of range.") from None


def _from_text(text: str) -> datetime:
    match = _DATETIME.fullmatch(text)
    if match is None:
        raise ParameterError(f"Expected RFC 3339 text (e.g. {EXAMPLE_TIME}) or epoch seconds.")
    if match["offset"] is None:
        raise ParameterError(
            f"Give a UTC offset: a time without one is ambiguous (e.g. {EXAMPLE_TIME})."
        )
    year, month, day, hour, minute = (
        int(match[n]) for n in ("year", "month", "day", "hour", "minute")
    )
    second = int(match["second"] or 0)
    micro = int((match["fraction"] or "0")[:6].ljust(6, "0"))
    try:
        offset = _offset(match["offset"])
        return datetime(year, month, day, hour, minute, second, micro, offset).astimezone(UTC)
    except (ValueError, OverflowError) as exc:
        raise ParameterError(f"Not a valid date-time ({exc}).") from None


def _offset(text: str) -> timezone:
    if text in ("Z", "z"):
        return UTC
    digits = text[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:] or 0)
    if hours > 23 or minutes > 59:
        raise ValueError(f"offset {text} out of range")
    sign = -1 if text[0] == "-" else 1
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


def query_value(request: Request, name: str, parse: Callable[[str], T]) -> T | None:
    """``parse`` of query parameter ``name`` (None when absent or empty); 400 naming it."""
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    try:
        return parse(raw)
    except ParameterError as exc:
        raise serializers.ValidationError({name: [str(exc)]}) from None


@extend_schema_field(OpenApiTypes.DATETIME)
class DateTimeField(serializers.DateTimeField):
    """A body date-time read by :func:`parse_datetime` (offset required, or epoch seconds)."""

    def to_internal_value(self, value: Any) -> datetime:
        try:
            return parse_datetime(value)
        except ParameterError as exc:
            raise serializers.ValidationError(str(exc)) from None
