"""Draw one detector's band over a week: docs/anomalies-band.svg (issue #16).

The test suite's series for seed 1 (daily and weekly cycles, 5 % noise, injected anomalies),
walked through its last week as the job runs: each day's band comes from that day's fit (daily
seasonality "both", sensitivity 5), and the points the 10-minute scoring flagged are red.
Written as plain SVG so that the picture needs no plotting library.

Run: .venv/bin/python bench/anomaly_plot.py   (rewrites docs/anomalies-band.svg)
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from alerts.anomalies import (  # noqa: E402
    DEFAULT_SENSITIVITY,
    Model,
    Seasonality,
    band_width,
    fit,
)
from tests.alerts.anomalies.generator import DAY, WEEK, generate  # noqa: E402
from tests.alerts.anomalies.walk import MethodDetector, walk_forward  # noqa: E402

OUTPUT = ROOT / "docs" / "anomalies-band.svg"
SEED = 1
WIDTH, HEIGHT = 1000, 380
LEFT, RIGHT, TOP, BOTTOM = 60, 20, 40, 50
Y_MAX = 2_400.0


def week_band(series_seed: int) -> dict[str, np.ndarray]:
    series = generate(series_seed)
    start = int(series.history.times[-1]) + 300 - WEEK
    times, values = series.history.times, series.history.values
    shown = times >= start
    expected, lower, upper = (np.empty(shown.sum()) for _ in range(3))
    for day in range(7):
        begin = start + day * DAY
        model = fit(series.history, seasonality=Seasonality.BOTH, now=_at(begin))
        assert isinstance(model, Model)
        part = (times[shown] >= begin) & (times[shown] < begin + DAY)
        e, lo, hi = model.band(times[shown][part], band_width(DEFAULT_SENSITIVITY))
        expected[part], lower[part], upper[part] = e, lo, hi
    walk = walk_forward(series, MethodDetector())
    flagged = np.isin(times[shown], walk.times[walk.flagged])
    spans = [(i.start, i.end, i.kind) for i in series.injections if i.end > start]
    return {
        "times": times[shown],
        "values": values[shown],
        "expected": expected,
        "lower": lower,
        "upper": upper,
        "flagged": flagged,
        "spans": np.array(spans, dtype=object),
    }


def svg(data: dict[str, np.ndarray]) -> str:
    t0, t1 = int(data["times"][0]), int(data["times"][-1]) + 300

    def x(t: float) -> float:
        return LEFT + (t - t0) / (t1 - t0) * (WIDTH - LEFT - RIGHT)

    def y(v: float) -> float:
        return TOP + (1 - min(max(v, 0.0), Y_MAX) / Y_MAX) * (HEIGHT - TOP - BOTTOM)

    def path(ts: np.ndarray, vs: np.ndarray) -> str:
        return " ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in zip(ts, vs, strict=True))

    ts = data["times"]
    band = path(ts, data["upper"]) + " " + path(ts[::-1], data["lower"][::-1])
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">',
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>',
        f'<text x="{LEFT}" y="22" font-size="14">One detector over a week: expected value, '
        f"band (sensitivity 5 = 5 robust sigmas), observed points, flags</text>",
    ]
    for start, end, kind in data["spans"]:
        parts.append(
            f'<rect x="{x(max(start, t0)):.1f}" y="{TOP}" width="{x(end) - x(max(start, t0)):.1f}" '
            f'height="{HEIGHT - TOP - BOTTOM}" fill="#f5a623" fill-opacity="0.18">'
            f"<title>injected {kind}</title></rect>"
        )
    for v in range(0, int(Y_MAX) + 1, 400):
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(v):.1f}" y2="{y(v):.1f}" '
            f'stroke="#ddd"/><text x="{LEFT - 8}" y="{y(v) + 4:.1f}" text-anchor="end">{v}</text>'
        )
    for day in range(8):
        t = t0 + day * DAY
        parts.append(
            f'<line x1="{x(t):.1f}" x2="{x(t):.1f}" y1="{TOP}" y2="{HEIGHT - BOTTOM}" '
            f'stroke="#ddd"/>'
        )
        if day < 7:
            parts.append(
                f'<text x="{x(t + DAY / 2):.1f}" y="{HEIGHT - BOTTOM + 18}" text-anchor="middle">'
                f"{_at(t):%a %d %b}</text>"
            )
    parts += [
        f'<polygon points="{band}" fill="#4a90d9" fill-opacity="0.25" stroke="none"/>',
        f'<polyline points="{path(ts, data["values"])}" fill="none" stroke="#555" '
        f'stroke-width="0.7"/>',
        f'<polyline points="{path(ts, data["expected"])}" fill="none" stroke="#1f5fa8" '
        f'stroke-width="1.5"/>',
    ]
    for t, v in zip(ts[data["flagged"]], data["values"][data["flagged"]], strict=True):
        parts.append(f'<circle cx="{x(t):.1f}" cy="{y(v):.1f}" r="2.5" fill="#d0021b"/>')
    parts.append(_legend())
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def _legend() -> str:
    top = HEIGHT - 16
    items = [
        ('<rect x="0" y="-9" width="18" height="10" fill="#4a90d9" fill-opacity="0.25"/>', "band"),
        ('<line x1="0" x2="18" y1="-4" y2="-4" stroke="#1f5fa8" stroke-width="1.5"/>', "expected"),
        ('<line x1="0" x2="18" y1="-4" y2="-4" stroke="#555"/>', "observed (5-minute points)"),
        ('<circle cx="9" cy="-4" r="3" fill="#d0021b"/>', "flagged by the 10-minute scoring"),
        (
            '<rect x="0" y="-9" width="18" height="10" fill="#f5a623" fill-opacity="0.3"/>',
            "injected anomaly",
        ),
    ]
    out, left = [], LEFT
    for mark, label in items:
        out.append(
            f'<g transform="translate({left},{top})">{mark}<text x="24" y="0">{label}</text></g>'
        )
        left += 40 + 7 * len(label)
    return "\n".join(out)


def _at(epoch: int) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def main() -> int:
    OUTPUT.write_text(svg(week_band(SEED)))
    print(f"wrote {OUTPUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
