"""The report's charts: PNG images drawn by matplotlib, for the page and the e-mail alike.

Each chart is a pure function of the stored report data, so the page (``<img>`` from
``/reports/<date>/charts/<name>.png``) and the e-mail (inline ``cid:`` parts) show the same
bytes. See ``docs/decisions.md``, "Charts are PNG images drawn by matplotlib".
"""

from __future__ import annotations

from typing import Any

CHARTS = ("uptime", "tickets", "timeline")


def render_chart(name: str, data: dict[str, Any]) -> bytes:
    """The PNG of chart ``name`` (one of ``CHARTS``) for a report's data."""
    # Loaded on the first chart: matplotlib costs a process about 50 MB and half a second, and
    # most web and worker processes never draw one.
    from reports.charts.drawing import CHARTS as DRAWINGS

    return DRAWINGS[name](data)
