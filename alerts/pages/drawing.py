"""The drawing of an alert's chart with matplotlib (Agg: no display, no network)."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import matplotlib
from matplotlib.dates import DateFormatter, date2num
from matplotlib.figure import Figure

from alerts.models import Alert
from alerts.pages.chart import ChartData
from monitoring_site.humanize import format_number

if TYPE_CHECKING:
    from matplotlib.axes import Axes

matplotlib.use("Agg")
# Set once, not per chart: rc_context() swaps global parameters, a race between threads drawing.
matplotlib.rcParams.update({"font.family": "DejaVu Sans", "font.size": 9})

WIDTH, HEIGHT, DPI = 8.6, 3.0, 100  # 860 x 300 px, the width of the page's column
LINE, THRESHOLD, FIRED, ACKED, RESOLVED, MUTED = (
    "#0969da",
    "#cf222e",
    "#cf222e",
    "#bf8700",
    "#2da44e",
    "#8c959f",
)


def draw(alert: Alert, data: ChartData) -> bytes:
    """The chart as PNG bytes: the value line, the threshold, the firing shaded."""
    figure = Figure(figsize=(WIDTH, HEIGHT), dpi=DPI, layout="constrained")
    axes = figure.add_subplot()
    axes.spines[["top", "right"]].set_visible(False)
    axes.grid(axis="y", color="#d0d7de", linewidth=0.5)
    axes.set_axisbelow(True)
    subject = alert.expression or data.label
    axes.set_title(f"{alert.rule_name}: {subject}"[:110], loc="left")
    known = [(at, value) for at, value in data.points if value is not None]
    if known:
        axes.plot(
            [_x(at) for at, _ in known],
            [v for _, v in known],
            color=LINE,
            linewidth=1.6,
            label=data.label,
        )
    if data.failures:
        axes.plot(
            [_x(at) for at in data.failures],
            [0.0] * len(data.failures),
            linestyle="none",
            marker="|",
            markersize=14,
            color=THRESHOLD,
            label="failed check",
        )
    if not known and not data.failures:
        axes.text(
            0.5, 0.5, data.problem, ha="center", va="center", color=MUTED, transform=axes.transAxes
        )
    if alert.threshold is not None:
        label = f"threshold {alert.operator} {format_number(alert.threshold)}"
        axes.axhline(alert.threshold, color=THRESHOLD, linestyle="--", linewidth=1.2, label=label)
    _marks(axes, alert, data)
    axes.set_xlim(_x(data.start), _x(data.end))
    axes.xaxis.set_major_formatter(DateFormatter("%H:%M", tz=UTC))
    axes.set_xlabel("time (UTC)")
    axes.legend(loc="upper left", frameon=False, fontsize=8)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return buffer.getvalue()


def _marks(axes: Axes, alert: Alert, data: ChartData) -> None:
    """The firing shaded; fired, acknowledged and resolved as vertical lines."""
    if alert.fired_at is not None:
        until = alert.resolved_at or data.end
        axes.axvspan(
            _x(_clip(alert.fired_at, data)), _x(_clip(until, data)), color=FIRED, alpha=0.08
        )
    for moment, colour, label in (
        (alert.fired_at, FIRED, "fired"),
        (alert.acknowledged_at, ACKED, "acknowledged"),
        (alert.resolved_at, RESOLVED, "resolved"),
    ):
        if moment is not None and data.start <= moment <= data.end:
            axes.axvline(_x(moment), color=colour, linewidth=1.0, label=label)


def _clip(moment: datetime, data: ChartData) -> datetime:
    return min(max(moment, data.start), data.end)


def _x(moment: datetime) -> float:
    """matplotlib's number for an instant (days since its epoch)."""
    return float(date2num(moment))
