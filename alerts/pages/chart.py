"""An alert's chart: the value of its expression around the firing, with the threshold drawn.

A PNG drawn by matplotlib on the server, as the daily report's charts are (no script, no
network): the rule's expression is replayed over stored history (``alerts.language.backtest``)
for the series of the alert's labels, from half an hour before it fired until it resolved (or
now), the threshold as a dashed line and the firing, acknowledgement and resolution marked.
A health alert (``service_down``) has no expression: its chart is the service's check latency,
each failed check marked.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from alerts.language import RuleError
from alerts.language.evaluator import backtest
from alerts.models import Alert
from health.models import CheckResult
from health.outcomes import Outcome

BEFORE = timedelta(minutes=30)
AFTER = timedelta(minutes=15)
LONGEST = timedelta(hours=48)  # an alert open for days: its last two days
POINTS = 240
SHORTEST_STEP = timedelta(seconds=15)


@dataclass
class ChartData:
    """What the chart draws: (time, value) points and the moments to mark."""

    start: datetime
    end: datetime
    points: list[tuple[datetime, float | None]] = field(default_factory=list)
    failures: list[datetime] = field(default_factory=list)
    label: str = "value"
    problem: str = ""


def chart_window(alert: Alert, *, now: datetime) -> tuple[datetime, datetime]:
    """From half an hour before the firing to a quarter of an hour after it resolved (or now)."""
    began = alert.fired_at or alert.started_at
    end = min(alert.resolved_at + AFTER, now) if alert.resolved_at else now
    start = max(began - BEFORE, end - LONGEST)
    return start, max(end, start + SHORTEST_STEP)


def chart_data(alert: Alert, *, now: datetime) -> ChartData:
    """The values of the alert's series over its window; ``problem`` says why there are none."""
    start, end = chart_window(alert, now=now)
    data = ChartData(start=start, end=end)
    service = (alert.details or {}).get("service")
    if alert.source == Alert.Source.HEALTH and service:
        return _checks(data, str(service))
    if not alert.expression:
        data.problem = f"A {alert.get_source_display()} alert has no expression to chart."
        return data
    step = max(SHORTEST_STEP, (end - start) / POINTS)
    step = timedelta(seconds=math.ceil(step.total_seconds()))
    try:
        results = backtest(alert.expression, start=start, end=end, step=step)
    except RuleError as exc:
        data.problem = f"The expression cannot be replayed: {exc}"
        return data
    data.points = [(at, _value_for(alert, result)) for at, result in results]
    if all(value is None for _, value in data.points):
        data.problem = "No stored samples in this window."
    return data


def _checks(data: ChartData, service: str) -> ChartData:
    """The service's checks in the window: latency of those that answered, failures marked."""
    rows = CheckResult.objects.filter(
        service__slug=service, checked_at__gte=data.start, checked_at__lte=data.end
    ).order_by("checked_at")
    data.label = f"{service}: check latency (ms)"
    for at, outcome, latency in rows.values_list("checked_at", "outcome", "latency_ms"):
        if outcome == Outcome.DOWN:
            data.failures.append(at)
        else:
            data.points.append((at, latency))
    if not data.points and not data.failures:
        data.problem = f"No check of {service} is stored in this window."
    return data


def _value_for(alert: Alert, result: object) -> float | None:
    """The value of the alert's own series in one result (a scalar, or the matching sample)."""
    samples = getattr(result, "samples", None)
    if samples is None:
        value = float(getattr(result, "value", math.nan))
        return None if math.isnan(value) else value
    labels = {str(k): str(v) for k, v in (alert.labels or {}).items()}
    for sample in samples:
        if all(labels.get(k) == str(v) for k, v in sample.labels.items()):
            value = float(sample.value)
            return None if math.isnan(value) else value
    return None


def render_chart(alert: Alert, *, now: datetime) -> bytes:
    """The PNG of ``alert``'s chart at ``now``."""
    # Loaded on the first chart: matplotlib costs a process about 50 MB and half a second.
    from alerts.pages.drawing import draw

    return draw(alert, chart_data(alert, now=now))
