"""The drawing of the report's charts with matplotlib (Agg: no display, no network)."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import matplotlib
from matplotlib.figure import Figure

from alerts.severity import Severity

# No display, no GUI toolkit (pyplot is never imported; Figure draws with Agg by itself).
matplotlib.use("Agg")
# Set once, not per chart: rc_context() swaps global parameters, a race between threads drawing.
matplotlib.rcParams.update({"font.family": "DejaVu Sans", "font.size": 9})

if TYPE_CHECKING:
    from matplotlib.axes import Axes

WIDTH = 8.0  # inches at DPI: 800 px wide, readable in a mail client
DPI = 100
GOOD, WARN, BAD, MUTED, ACCENT = "#2da44e", "#bf8700", "#cf222e", "#8c959f", "#0969da"


def uptime_chart(data: dict[str, Any]) -> bytes:
    """One horizontal bar per service: its share of checks found up, worst first."""
    rows = sorted(data["uptime"]["services"], key=lambda r: (r["uptime"] or 0, r["service"]))
    if not rows:
        return _empty("Uptime per service", "No health checks were recorded on this day.")
    figure, axes = _figure(max(2.0, 0.28 * len(rows) + 1.0))
    values = [100 * (row["uptime"] or 0) for row in rows]
    axes.barh(
        [row["name"] for row in rows], values, color=[_uptime_color(v) for v in values], height=0.6
    )
    floor = min(90.0, min(values) - 1) if values else 90.0
    axes.set_xlim(max(0.0, floor), 100.0)
    axes.set_xlabel("uptime (%)")
    axes.set_title("Uptime per service", loc="left")
    for position, value in enumerate(values):
        axes.annotate(
            f"{value:.2f}%",
            (value, position),
            xytext=(-4, 0),
            textcoords="offset points",
            ha="right",
            va="center",
            color="white",
            fontsize=8,
        )
    return _png(figure)


def _uptime_color(percent: float) -> str:
    return GOOD if percent >= 99.9 else (WARN if percent >= 99.0 else BAD)


def tickets_chart(data: dict[str, Any]) -> bytes:
    """Tickets sold per local hour (bars) against the same hour a week earlier (line)."""
    hours = data["business"]["tickets_per_hour"]
    if not data["business"]["has_data"]:
        return _empty("Tickets per hour", "No business figures were recorded on this day.")
    figure, axes = _figure(3.0)
    positions = list(range(len(hours)))
    axes.bar(positions, [h["tickets"] or 0 for h in hours], color=ACCENT, label="this day")
    week = [(p, h["week_before"]) for p, h in zip(positions, hours, strict=True)]
    known = [(p, v) for p, v in week if v is not None]
    if known:
        axes.plot(
            [p for p, _ in known],
            [v for _, v in known],
            color=WARN,
            marker="o",
            markersize=3,
            label="a week earlier",
        )
    axes.set_xticks(positions[::2], [h["label"][:2] for h in hours][::2])
    axes.set_xlabel(f"hour ({data['time_zone']})")
    axes.set_ylabel("tickets")
    axes.set_title("Tickets per hour", loc="left")
    axes.legend(loc="upper left", frameon=False)
    return _png(figure)


def timeline_chart(data: dict[str, Any]) -> bytes:
    """Each alert of the day as a bar from firing to resolution, coloured by severity."""
    alerts = data["incidents"]["timeline"]
    if not alerts:
        return _empty("Alert timeline", "No alert fired on this day.")
    zone = ZoneInfo(data["time_zone"])
    start, end = _instant(data["start"]), _instant(data["end"])
    figure, axes = _figure(max(2.0, 0.3 * len(alerts) + 1.2))
    for row, alert in enumerate(alerts):
        began = max(_instant(alert["fired_at"]), start)
        until = min(_instant(alert["resolved_at"]) if alert["resolved_at"] else end, end)
        axes.barh(
            row,
            max((until - began).total_seconds() / 3600, 0.05),
            left=(began - start).total_seconds() / 3600,
            height=0.6,
            color=_colour(alert["severity"]),
        )
    axes.set_yticks(range(len(alerts)), [f"#{a['id']} {a['rule'][:32]}" for a in alerts])
    axes.invert_yaxis()
    length = (end - start).total_seconds() / 3600
    ticks = list(range(0, int(length) + 1, 3))
    axes.set_xticks(
        ticks, [f"{(start + timedelta(hours=t)).astimezone(zone):%H:%M}" for t in ticks]
    )
    axes.set_xlim(0, length)
    axes.set_xlabel(f"time ({data['time_zone']})")
    axes.set_title("Alert timeline", loc="left")
    return _png(figure)


CHARTS: dict[str, Callable[[dict[str, Any]], bytes]] = {
    "uptime": uptime_chart,
    "tickets": tickets_chart,
    "timeline": timeline_chart,
}


def _figure(height: float) -> tuple[Figure, Axes]:
    figure = Figure(figsize=(WIDTH, height), dpi=DPI, layout="constrained")
    axes = figure.add_subplot()
    axes.spines[["top", "right"]].set_visible(False)
    axes.grid(axis="x", color="#d0d7de", linewidth=0.5)
    axes.set_axisbelow(True)
    return figure, axes


def _empty(title: str, text: str) -> bytes:
    figure, axes = _figure(1.2)
    axes.set_axis_off()
    axes.set_title(title, loc="left")
    axes.text(0.5, 0.4, text, ha="center", va="center", color=MUTED, transform=axes.transAxes)
    return _png(figure)


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    # No software or date metadata: the same data always gives the same bytes.
    figure.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return buffer.getvalue()


def _instant(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _colour(severity: str) -> str:
    known = Severity.of(severity)
    return known.colour if known else MUTED
