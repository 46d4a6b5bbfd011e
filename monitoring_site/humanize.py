"""Times and durations for people: one format everywhere in the admin and in messages.

``duration_text(seconds=61.5)`` is ``"1 min 2 s"``; ``duration_text(milliseconds=850.2)`` is
``"850 ms"``. Instants use ``DATETIME_FORMAT`` (``monitoring_site/formats``):
``2026-11-30 17:04:05 UTC``.
"""

from __future__ import annotations

import math
from datetime import datetime

from django.utils import formats, timezone

EMPTY = "-"
_UNITS = ((86400, "d"), (3600, "h"), (60, "min"), (1, "s"))


def duration_text(*, seconds: float | None = None, milliseconds: float | None = None) -> str:
    """A duration for people: ``0.4 ms``, ``850 ms``, ``1.0 s``, ``2 min 5 s``, ``3 d 4 h``."""
    if milliseconds is not None:
        seconds = milliseconds / 1000
    if seconds is None or not math.isfinite(seconds):
        return EMPTY
    sign, seconds = ("-" if seconds < 0 else ""), abs(seconds)
    milli = seconds * 1000
    if milli < 9.95:
        return f"{sign}{milli:.1f} ms"
    if milli < 999.5:
        return f"{sign}{round(milli)} ms"
    if seconds < 1:
        return f"{sign}1.0 s"
    if seconds < 60:
        return f"{sign}{seconds:.1f} s" if seconds < 59.95 else f"{sign}1 min"
    return sign + _units_text(round(seconds))


def _units_text(whole: int) -> str:
    """The two largest non-zero units: ``2 min 5 s``, ``1 h``, ``3 d 4 h``."""
    parts: list[str] = []
    for size, unit in _UNITS:
        count, whole = divmod(whole, size)
        if count or parts:
            parts.append(f"{count} {unit}")
        if len(parts) == 2:
            break
    return " ".join(part for part in parts if not part.startswith("0 ")) or "0 s"


def format_number(value: float | None) -> str:
    """A number for people: 12.5, 1000, -62.5; no exponent for ordinary magnitudes."""
    if value is None:
        return "no data"
    if math.isnan(value) or math.isinf(value):
        return str(value)
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.4f}".rstrip("0").rstrip(".")


def datetime_text(value: datetime | None) -> str:
    """An instant in the site's time zone: ``2026-11-30 17:04:05 UTC``."""
    if value is None:
        return EMPTY
    return formats.date_format(timezone.localtime(value), "DATETIME_FORMAT")
