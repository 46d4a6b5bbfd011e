"""Rule preview: the rule replayed over stored history, with its ``for`` and ``keep_firing_for``.

The rule language's backtest gives the expression's result at each step; this module runs the
same lifecycle decisions over those results (pure, nothing is written) and answers when the rule
would have fired and resolved.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from alerts.engine.lifecycle import guard_passes, samples_of
from alerts.language.evaluator import backtest
from alerts.models import Rule

Key = tuple[tuple[str, str], ...]


@dataclass
class _Track:
    labels: dict[str, str]
    pending_at: datetime
    fired_at: datetime | None = None
    false_since: datetime | None = None
    max_value: float | None = None

    def see(self, value: float | None) -> None:
        if value is not None and not math.isnan(value):
            self.max_value = value if self.max_value is None else max(self.max_value, value)


@dataclass
class Replay:
    """Episodes (fired, resolved) found by replaying a rule over ``points`` evaluation steps."""

    points: int = 0
    episodes: list[dict[str, Any]] = field(default_factory=list)


def replay(
    rule: Rule, results: list[tuple[datetime, Any]], guards: list[Any] | None = None
) -> Replay:
    """Run the lifecycle over (time, result) pairs; ``guards`` are the guard's results per step."""
    outcome = Replay(points=len(results))
    tracks: dict[Key, _Track] = {}
    for index, (at, result) in enumerate(results):
        guard = guards[index] if guards is not None else None
        holding = _holding(rule, result, guard)
        if holding is None:
            continue  # no data, keep_state
        _step(rule, tracks, holding, at, outcome)
    for track in tracks.values():
        if track.fired_at is not None:
            outcome.episodes.append(_episode(track, resolved_at=None))
    outcome.episodes.sort(key=lambda item: item["fired_at"])
    return outcome


def _holding(rule: Rule, result: Any, guard: Any) -> dict[Key, tuple[dict, float | None]] | None:
    samples = samples_of(result)
    if not samples:
        if rule.no_data == Rule.NoData.KEEP_STATE:
            return None
        return {(): ({}, None)} if rule.no_data == Rule.NoData.ALERTING else {}
    if not guard_passes(rule, guard):
        return {}
    return {
        tuple(sorted(labels.items())): (labels, value)
        for labels, value in samples
        if rule.holds(value)
    }


def _step(
    rule: Rule,
    tracks: dict[Key, _Track],
    holding: dict[Key, tuple[dict, float | None]],
    at: datetime,
    outcome: Replay,
) -> None:
    for key, (labels, value) in holding.items():
        track = tracks.setdefault(key, _Track(labels=labels, pending_at=at))
        track.see(value)
        track.false_since = None
        if track.fired_at is None and at - track.pending_at >= rule.for_duration:
            track.fired_at = at
    for key in [key for key in tracks if key not in holding]:
        track = tracks[key]
        if track.fired_at is None:
            del tracks[key]
            continue
        track.false_since = track.false_since or at
        if at - track.false_since >= rule.keep_firing_for:
            outcome.episodes.append(_episode(track, resolved_at=at))
            del tracks[key]


def _episode(track: _Track, *, resolved_at: datetime | None) -> dict[str, Any]:
    return {
        "labels": track.labels,
        "pending_at": track.pending_at,
        "fired_at": track.fired_at,
        "resolved_at": resolved_at,
        "max_value": track.max_value,
    }


def preview_rule(rule: Rule, *, start: datetime, end: datetime, step: timedelta) -> Replay:
    """Backtest the rule (and its guard) over [start, end] and replay its lifecycle."""
    # Imported from its module: the package attribute ``alerts.language.backtest`` is shadowed by
    # the submodule of the same name once that submodule has been imported.

    results = backtest(rule.expression, start=start, end=end, step=step)
    guards = None
    if rule.has_guard():
        guards = [
            value
            for _, value in backtest(rule.min_volume_expression, start=start, end=end, step=step)
        ]
    return replay(rule, results, guards)
