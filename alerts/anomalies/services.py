"""Writes of anomaly detection: detectors (every door saves them here), fits, scores and alerts.

- :func:`create_detector`, :func:`update_detector`, :func:`delete_detector`: the API, the admin
  and bootstrap all go through these; disabling or deleting a detector resolves its alert;
- :func:`fit_detector`: the daily fit (and the first fit of a new or edited detector): the
  expression's history from the 5-minute rollups -> ``alerts.anomalies.fit`` -> the model stored
  beside the detector (or ``learning``);
- :func:`score_detectors`: the 10-minute job: every ready detector's new steps scored against its
  model, the scores stored, and one alert per detector raised or resolved through the lifecycle.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from alerts import actors
from alerts.actors import UserLike, actor_name
from alerts.anomalies import method
from alerts.anomalies.method import Direction, Learning, Model, PointScore, Seasonality
from alerts.anomalies.series import STEP, history, new_points, step_start, steps_between
from alerts.anomalies.validation import history_kept
from alerts.language import RuleError, parse
from alerts.language.backends import BackendError
from alerts.models import Alert, AnomalyDetector, AnomalyScore, Rule
from alerts.models.alerts import fingerprint_for
from alerts.models.anomalies import ANOMALY_RULE
from alerts.services import close_alert, open_alert
from metrics_app.selectors import rollups_final_before
from monitoring_site.humanize import format_number

logger = logging.getLogger(__name__)

ANOMALY_RULE_SPEC: dict[str, Any] = {
    "slug": ANOMALY_RULE,
    "name": "Anomaly",
    "description": "Raised by the anomaly detectors (each gives its own severity and channels).",
    "expression": "",
    "operator": "==",
    "threshold": 0,
    "severity": "warning",
    "channels": [],
    "for_seconds": 0,
    # One anomaly flapping in and out of its band pages once per half hour at most.
    "cooldown_seconds": 30 * 60,
    "builtin": True,
    "summary": "{labels.detector}: anomaly",
    "description_text": "The anomaly detector {labels.detector} flagged its series.",
}


def anomaly_rule() -> Rule | None:
    return Rule.objects.filter(slug=ANOMALY_RULE, builtin=True).first()


# --- detectors ------------------------------------------------------------------------------------


@transaction.atomic
def save_detector(
    *, detector: AnomalyDetector, user: UserLike, channels: Iterable[Any] | None = None
) -> AnomalyDetector:
    """Store a validated detector (new or edited); disabling it resolves its open alert.

    An edit bumps the version, so the next scoring run fits the detector again.
    """
    was_enabled = detector.pk is not None and bool(
        AnomalyDetector.objects.select_for_update()
        .filter(pk=detector.pk)
        .values_list("enabled", flat=True)
        .first()
    )
    detector.save()
    if channels is not None:
        detector.notification_channels.set(channels)
    if was_enabled and not detector.enabled:
        resolve_detector_alerts(
            detector=detector, actor=actor_name(user, default=actors.ANOMALY), reason="disabled"
        )
    logger.info("anomaly detector saved", extra={"detector": detector.slug})
    return detector


def create_detector(*, fields: Mapping[str, Any], user: UserLike) -> AnomalyDetector:
    """A new detector from validated fields (``notification_channels`` may be among them)."""
    values = dict(fields)
    channels = values.pop("notification_channels", None)
    return save_detector(detector=AnomalyDetector(**values), user=user, channels=channels)


def update_detector(
    *, detector: AnomalyDetector, changes: Mapping[str, Any], user: UserLike
) -> AnomalyDetector:
    values = dict(changes)
    channels = values.pop("notification_channels", None)
    for name, value in values.items():
        setattr(detector, name, value)
    return save_detector(detector=detector, user=user, channels=channels)


@transaction.atomic
def delete_detector(*, detector: AnomalyDetector, user: UserLike) -> int:
    """Resolve the detector's open alert, then delete it with its scores; alerts stay."""
    resolved = resolve_detector_alerts(
        detector=detector, actor=actor_name(user, default=actors.ANOMALY), reason="deleted"
    )
    detector.delete()
    logger.info("anomaly detector deleted", extra={"detector": detector.slug})
    return resolved


@transaction.atomic
def resolve_detector_alerts(*, detector: AnomalyDetector, actor: str, reason: str) -> int:
    rows = list(
        Alert.objects.select_for_update(of=("self",))
        .select_related("rule")
        .filter(detector=detector, state__in=Alert.OPEN_STATES)
    )
    for alert in rows:
        close_alert(alert=alert, now=timezone.now(), actor=actor, reason=f"detector {reason}")
    return len(rows)


# --- fits ---------------------------------------------------------------------------------------


def fit_detector(*, detector: AnomalyDetector, now: datetime) -> Model | Learning | None:
    """Fit ``detector`` from its history and store the model (None: the expression failed)."""
    end = step_start(now)
    # Up to where the rollups are final: a step the aggregation job has not rolled up yet would
    # read as an increase of 0 (the last hour or so is left out of a daily fit).
    final = rollups_final_before()
    until = min(end, final) if final is not None else end
    try:
        points = history(parse(detector.expression), start=end - history_kept(), end=until)
        model = method.fit(
            points,
            seasonality=Seasonality(detector.seasonality),
            now=end,
            timezone=detector.timezone,
            minimum_history=detector.minimum_history,
        )
    except BackendError as exc:
        # The metrics backend is down: keep the model and try again at the next fit.
        _record_error(detector, f"fit: metrics backend: {exc}", now=now)
        return None
    except RuleError as exc:
        _record_error(detector, f"fit: {exc}", now=now)
        # Fitted (it failed): the next attempt is the next daily fit, or the next edit.
        AnomalyDetector.objects.filter(pk=detector.pk, version=detector.version).update(
            model=None, fitted_at=now, fitted_version=detector.version
        )
        return None
    if isinstance(model, Learning):
        status, message, stored = AnomalyDetector.Status.LEARNING, model.message, None
    else:
        status, message, stored = AnomalyDetector.Status.READY, "", model.to_dict()
    # Only the version that was read: an edit made meanwhile is fitted again by the next run.
    AnomalyDetector.objects.filter(pk=detector.pk, version=detector.version).update(
        status=status,
        status_message=message[:300],
        model=stored,
        fitted_at=now,
        fitted_version=detector.version,
        last_error="",
    )
    detector.refresh_from_db()
    logger.info("anomaly detector fitted", extra={"detector": detector.slug, "status": status})
    return model


def _record_error(detector: AnomalyDetector, message: str, *, now: datetime) -> None:
    logger.warning("anomaly detector failed", extra={"detector": detector.slug, "error": message})
    AnomalyDetector.objects.filter(pk=detector.pk).update(
        status=AnomalyDetector.Status.ERROR,
        status_message=message[:300],
        last_error=message,
        last_error_at=now,
    )
    detector.status = AnomalyDetector.Status.ERROR


def fit_stale(*, now: datetime, older_than: timedelta, limit: int | None, budget: float) -> int:
    """Fit the enabled detectors never fitted, edited since, or fitted before ``older_than``.

    At most ``limit`` of them (None: all), the oldest first, and none once ``budget`` seconds
    have passed (the rest wait for the next run). Returns how many were fitted.
    """
    started = time.monotonic()
    fitted = 0
    for detector in _stale(now=now, older_than=older_than):
        if (limit is not None and fitted >= limit) or time.monotonic() - started > budget:
            break
        fit_detector(detector=detector, now=now)
        fitted += 1
    return fitted


def _stale(*, now: datetime, older_than: timedelta) -> list[AnomalyDetector]:
    detectors = AnomalyDetector.objects.filter(enabled=True).order_by("fitted_at", "pk")
    return [
        d
        for d in detectors
        if d.needs_fit() or (d.fitted_at is not None and now - d.fitted_at >= older_than)
    ]


# --- scoring ------------------------------------------------------------------------------------


@dataclass
class ScoringRun:
    """What one run of the 10-minute job did."""

    fitted: int = 0
    scored: int = 0
    points: int = 0
    flagged: int = 0
    raised: int = 0
    resolved: int = 0
    errors: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return (
            f"{self.scored} detectors scored ({self.points} points, {self.flagged} anomalous), "
            f"{self.raised} alerts raised, {self.resolved} resolved, {self.fitted} fitted, "
            f"{len(self.errors)} errors"
        )


def score_detectors(*, now: datetime | None = None) -> ScoringRun:
    """The 10-minute job: fit what has no model yet, then score each ready detector's new steps."""
    now = now or timezone.now()
    run = ScoringRun()
    run.fitted = fit_stale(
        now=now,
        older_than=timedelta(hours=settings.ANOMALY_REFIT_AFTER_HOURS),
        limit=settings.ANOMALY_FITS_PER_RUN,
        budget=settings.ANOMALY_FIT_BUDGET_SECONDS,
    )
    ready = [
        d
        for d in AnomalyDetector.objects.filter(enabled=True).order_by("pk")
        if d.fitted_model() is not None
    ]
    end = step_start(now - timedelta(seconds=settings.ANOMALY_SETTLE_SECONDS))
    plans = {d.pk: _steps_to_score(d, end=end) for d in ready}
    values = _values(ready, plans)
    rule = anomaly_rule()
    for detector in ready:
        _score_one(detector, plans[detector.pk], values[detector.pk], rule=rule, now=now, run=run)
    return run


def _steps_to_score(detector: AnomalyDetector, *, end: datetime) -> list[datetime]:
    catch_up = end - timedelta(minutes=settings.ANOMALY_CATCH_UP_MINUTES)
    start = max(detector.scored_until or catch_up, catch_up)
    return steps_between(start, end)


def _values(
    detectors: list[AnomalyDetector], plans: dict[int, list[datetime]]
) -> dict[int, dict[datetime, float | RuleError]]:
    """Each detector's values at its steps; the detectors due at one step share its queries."""
    by_step: dict[datetime, list[AnomalyDetector]] = {}
    for detector in detectors:
        for step in plans[detector.pk]:
            by_step.setdefault(step, []).append(detector)
    values: dict[int, dict[datetime, float | RuleError]] = {d.pk: {} for d in detectors}
    trees: dict[int, Any] = {}
    for detector in detectors:
        try:
            trees[detector.pk] = parse(detector.expression)
        except RuleError as exc:
            for step in plans[detector.pk]:
                values[detector.pk][step] = exc
    for step in sorted(by_step):
        due = [d for d in by_step[step] if d.pk in trees]
        table = new_points([trees[d.pk] for d in due], [step])
        for detector, row in zip(due, table, strict=True):
            values[detector.pk][step] = row[0]
    return values


def _score_one(
    detector: AnomalyDetector,
    steps: list[datetime],
    values: dict[datetime, float | RuleError],
    *,
    rule: Rule | None,
    now: datetime,
    run: ScoringRun,
) -> None:
    if not steps:
        return
    errors = [value for value in values.values() if isinstance(value, RuleError)]
    if errors:
        message = f"scoring: {errors[-1]}"
        run.errors.append(f"{detector.slug}: {message}")
        _record_error(detector, message, now=now)
        return
    model = detector.fitted_model()
    assert model is not None
    numbers = [value for step in steps if not isinstance(value := values[step], RuleError)]
    points = method.History.of([int(step.timestamp()) for step in steps], numbers)
    scores = method.score(
        model,
        points,
        sensitivity=detector.sensitivity,
        direction=Direction(detector.direction),
    )
    with transaction.atomic():
        _store(detector, scores, scored_until=steps[-1] + STEP)
        if scores:
            outcome = _reconcile_alert(detector, scores, rule=rule, now=now)
            run.raised += outcome == "raised"
            run.resolved += outcome == "resolved"
    run.scored += 1
    run.points += len(scores)
    run.flagged += sum(score.anomalous for score in scores)


def _store(detector: AnomalyDetector, scores: list[PointScore], *, scored_until: datetime) -> None:
    AnomalyScore.objects.bulk_create(
        [
            AnomalyScore(
                detector=detector,
                at=point.at,
                observed=point.observed,
                expected=point.expected,
                lower=point.lower,
                upper=point.upper,
                score=point.score,
                anomalous=point.anomalous,
            )
            for point in scores
        ],
        ignore_conflicts=True,  # a step scored twice (two workers) keeps its first score
    )
    changes: dict[str, Any] = {"scored_until": scored_until}
    if detector.status == AnomalyDetector.Status.ERROR:  # it scores again
        changes.update(status=AnomalyDetector.Status.READY, status_message="")
    AnomalyDetector.objects.filter(pk=detector.pk).update(**changes)
    for name, value in changes.items():
        setattr(detector, name, value)


# --- alerts ---------------------------------------------------------------------------------------


def _identity(detector: AnomalyDetector) -> dict[str, str]:
    return {"detector": str(detector.pk)}


def open_alert_of(detector: AnomalyDetector, rule: Rule) -> Alert | None:
    fingerprint = fingerprint_for(Alert.Source.ANOMALY, str(rule.pk), _identity(detector))
    return (
        Alert.objects.select_for_update(of=("self",))
        .select_related("rule")
        .filter(fingerprint=fingerprint, state__in=Alert.OPEN_STATES)
        .first()
    )


def _reconcile_alert(
    detector: AnomalyDetector, scores: list[PointScore], *, rule: Rule | None, now: datetime
) -> str:
    """Raise the detector's alert on a flagged step; resolve it once the last steps are normal."""
    if rule is None:
        logger.warning("no anomaly rule: run bootstrap", extra={"detector": detector.slug})
        return ""
    alert = open_alert_of(detector, rule)
    flagged = [score for score in scores if score.anomalous]
    if alert is None:
        if flagged and rule.enabled:
            return "raised" if raise_anomaly(detector, flagged[-1], rule=rule, now=now) else ""
        return ""
    if flagged:
        _update(alert, detector, flagged[-1])
        return ""
    if _back_to_normal(detector):
        last = scores[-1]
        close_alert(
            alert=alert,
            now=now,
            actor=actors.ANOMALY,
            reason="back inside the band",
            details={"observed": last.observed, "expected": last.expected},
        )
        return "resolved"
    return ""


def _back_to_normal(detector: AnomalyDetector) -> bool:
    """The last ``ANOMALY_RESOLVE_STEPS`` scored steps are all inside the band."""
    needed = settings.ANOMALY_RESOLVE_STEPS
    last = list(
        AnomalyScore.objects.filter(detector=detector)
        .order_by("-at")
        .values_list("anomalous", flat=True)[:needed]
    )
    return len(last) == needed and not any(last)


def describe(detector: AnomalyDetector, point: PointScore) -> tuple[str, str]:
    """The alert's summary and description: expected versus observed, and the band."""
    side = "above" if point.observed > point.upper else "below"
    observed, expected = format_number(point.observed), format_number(point.expected)
    band = f"{format_number(point.lower)} to {format_number(point.upper)}"
    summary = f"{detector.name}: observed {observed}, expected {expected}"
    description = (
        f"{detector.name} is {side} its usual band at {point.at:%Y-%m-%d %H:%M} UTC: "
        f"observed {observed}, expected {expected} (band {band}, {point.score:+.1f} sigma; "
        f"seasonality {detector.seasonality}, sensitivity {format_number(detector.sensitivity)})."
        f"\nExpression: {detector.expression}"
    )
    return summary[:1000], description


def _details(detector: AnomalyDetector, point: PointScore) -> dict[str, Any]:
    return {
        "detector": detector.pk,
        "at": point.at.isoformat(),
        "observed": point.observed,
        "expected": point.expected,
        "lower": point.lower,
        "upper": point.upper,
        "score": round(point.score, 3),
    }


def raise_anomaly(
    detector: AnomalyDetector, point: PointScore, *, rule: Rule, now: datetime
) -> Alert | None:
    """Open the detector's alert (firing at once: the anomaly was already judged)."""
    summary, description = describe(detector, point)
    labels = {
        **{str(k): str(v) for k, v in (rule.labels or {}).items()},
        "detector": detector.slug,
    }
    alert = open_alert(
        rule=rule,
        source=Alert.Source.ANOMALY,
        labels=labels,
        identity=_identity(detector),
        value=point.observed,
        now=now,
        actor=actors.ANOMALY,
        details=_details(detector, point),
        overrides={
            "detector": detector,
            "rule_name": detector.name[:200],
            "expression": detector.expression,
            "severity": detector.severity,
            "summary": summary,
            "description": description,
        },
    )
    if alert is not None:
        logger.info(
            "anomaly raised",
            extra={"alert": alert.pk, "detector": detector.slug, "score": point.score},
        )
    return alert


def _update(alert: Alert, detector: AnomalyDetector, point: PointScore) -> None:
    alert.value = point.observed
    alert.details = {**alert.details, "latest": _details(detector, point)}
    alert.last_evaluated_at = timezone.now()
    alert.save(update_fields=["value", "details", "last_evaluated_at"])
