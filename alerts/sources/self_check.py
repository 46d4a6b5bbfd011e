"""Self-alerts: the monitor watching itself (source "self-check", issue #14).

Every minute the ``self_check`` job compares what the rows say with what should be, and keeps one
open alert per problem found, through the normal lifecycle (AlertEvent, outbox, channels):

- ``job_failing``: a declared job's last two finished runs failed;
- ``job_missing``: a declared job missed two of its periods (the scheduler or its worker stuck);
- ``evaluation_lag``: the latest evaluation cycle is more than two intervals behind;
- ``evaluator_down``: no evaluator loop has beaten for two intervals (``manage.py run_evaluator``
  is not running, or cannot reach the database); the minute job evaluates meanwhile;
- ``notification_backlog``: due, undelivered notifications grew over the last ten minutes;
- ``disk_full``: the disk holding ``VAR_DIR`` is fuller than ``SELF_CHECK_DISK_PERCENT``;
- ``metrics_backend``: the latest evaluation cycle could not read the metrics backend
  (``METRICS_BACKEND=prometheus``: down, timing out, or answering errors).

An alert resolves itself at the first run that no longer finds its problem. A dead worker
cluster cannot run this job: the dead-man's switch and ``/health`` announce it, and when the
workers return, ``workers_outage`` records the silence and its length (raised and resolved at
once). Each alert links its runbook in ``docs/operations.md``. The built-in ``self_check`` rule
(seeded by bootstrap) gives the alerts their severity, and disabling it stops new ones.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Min, Q
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily, Metric

from alerts import actors
from alerts.engine.cycle import BACKEND_FAILURE
from alerts.engine.evaluator import evaluator_alive, heartbeat_at
from alerts.models import Alert, AlertEvent, Notification, Rule
from alerts.models.alerts import fingerprint_for
from alerts.models.evaluation import EvaluationCycle
from alerts.services import close_alert, record_event
from metrics_app.backend import display_url
from monitoring_site.workers import disk_usage_percent, job_statuses, worker_outages

logger = logging.getLogger(__name__)

SELF_CHECK = "self_check"
ACTOR = actors.SELF_CHECK
WORKERS_OUTAGE = "workers_outage"
BACKLOG_WINDOW = timedelta(minutes=10)
# A silence of the cluster is recorded when the workers are back within this long.
OUTAGE_LOOKBACK = timedelta(minutes=15)

SELF_CHECK_RULE: dict[str, Any] = {
    "slug": SELF_CHECK,
    "name": "Monitor self-check",
    "description": "The monitor's own jobs, evaluation, notifications and disk (self-check).",
    "expression": "",
    "operator": "==",
    "threshold": 0,
    "severity": "error",
    "channels": [],
    "for_seconds": 0,
    "cooldown_seconds": 0,
    "builtin": True,
    "summary": "Monitor self-check: {labels.check}",
    "description_text": "The monitor's self-check {labels.check} found a problem.",
}


@dataclass(frozen=True)
class Finding:
    """One problem the self-check found: which check, about what, and the words for people."""

    check: str
    subject: str
    summary: str
    description: str
    value: float | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def identity(self) -> dict[str, str]:
        return {"check": self.check, "subject": self.subject}

    @property
    def runbook(self) -> str:
        page = settings.RUNBOOK_URL or "docs/operations.md"
        return f"{page}#runbook-{self.check.replace('_', '-')}"


def self_check_rule() -> Rule | None:
    return Rule.objects.filter(slug=SELF_CHECK, builtin=True).first()


def run_self_checks() -> str:
    """The ``self_check`` job: raise, keep and resolve the self-alerts, record worker outages."""
    rule = self_check_rule()
    if rule is None:
        logger.warning("no self_check rule: run bootstrap")
        return "no self_check rule: run bootstrap"
    now = timezone.now()
    findings = current_findings(now=now)
    raised, resolved = reconcile(rule=rule, findings=findings, now=now)
    outages = record_worker_outages(rule=rule, now=now)
    return f"{len(findings)} problems: {raised} raised, {resolved} resolved, {outages} outages"


def current_findings(*, now: datetime) -> list[Finding]:
    return [
        *_job_findings(now),
        *_evaluation_lag(now),
        *_evaluator_down(now),
        *_notification_backlog(now),
        *_disk_full(),
        *_metrics_backend(),
    ]


def _job_findings(now: datetime) -> Iterator[Finding]:
    for status in job_statuses(now=now):
        name = status.job.name
        if status.failing_streak >= 2:
            error = status.last.error if status.last else ""
            yield Finding(
                check="job_failing",
                subject=name,
                summary=f"Job {name} failed {status.failing_streak} times in a row",
                description=f"The last runs of {name} failed. Last error: {error[:500]}",
                value=status.failing_streak,
                details={"job": name, "error": error[:1000]},
            )
        if status.missed_periods >= 2:
            last = status.last.started_at.isoformat() if status.last else "never"
            yield Finding(
                check="job_missing",
                subject=name,
                summary=f"Job {name} missed {status.missed_periods} runs",
                description=f"{name} has not started since {last}: its schedule or worker is stuck",
                value=status.missed_periods,
                details={"job": name, "last_run": last},
            )


def _evaluation_lag(now: datetime) -> Iterator[Finding]:
    latest = EvaluationCycle.objects.filter(skipped=False).order_by("-started_at").first()
    if latest is None:
        return
    interval = settings.RULE_EVALUATION_INTERVAL_SECONDS
    behind = (now - latest.started_at).total_seconds() - interval
    lag = max(latest.lag_ms / 1000, behind)
    if lag > 2 * interval:
        yield Finding(
            check="evaluation_lag",
            subject="",
            summary=f"Rule evaluation is {int(lag)} s behind",
            description=(
                f"The latest evaluation cycle started at {latest.started_at.isoformat()}; "
                f"rules are evaluated every {interval} s, so alerts are late."
            ),
            value=round(lag, 1),
            details={"last_cycle": latest.started_at.isoformat(), "lag_seconds": round(lag, 1)},
        )


def evaluator_down(*, now: datetime) -> Finding | None:
    """The finding when no evaluator loop has beaten for two intervals, else None."""
    if evaluator_alive(now=now):
        return None
    beat = heartbeat_at()
    last = beat.isoformat() if beat else "never"
    return Finding(
        check="evaluator_down",
        subject="",
        summary="The rule evaluator is not running",
        description=(
            f"No evaluator (manage.py run_evaluator) has beaten since {last}: rules are "
            "evaluated once a minute by the safety-net job, so alerts are up to a minute late."
        ),
        details={"last_heartbeat": last},
    )


def _evaluator_down(now: datetime) -> Iterator[Finding]:
    finding = evaluator_down(now=now)
    if finding is not None:
        yield finding


def raise_self_alert(finding: Finding, *, now: datetime) -> Alert | None:
    """Raise ``finding``'s self-alert now unless it is open (the self_check job resolves it)."""
    rule = self_check_rule()
    if rule is None or not rule.enabled:
        return None
    fingerprint = _fingerprint(rule, finding.identity)
    if Alert.objects.filter(fingerprint=fingerprint, state__in=Alert.OPEN_STATES).exists():
        return None
    with transaction.atomic():
        return _raise(rule, finding, now)


def backlog_at(moment: datetime) -> int:
    """Notifications that were due and undelivered at ``moment`` (read back from the rows)."""
    waiting = Q(state__in=Notification.PENDING_STATES) | Q(
        state=Notification.State.DELIVERED, delivered_at__gt=moment
    )
    return Notification.objects.filter(waiting, created_at__lte=moment, due_at__lte=moment).count()


def _notification_backlog(now: datetime) -> Iterator[Finding]:
    then, middle, current = (
        backlog_at(now - BACKLOG_WINDOW),
        backlog_at(now - BACKLOG_WINDOW / 2),
        backlog_at(now),
    )
    if then > 0 and middle >= then and current > then:
        yield Finding(
            check="notification_backlog",
            subject="",
            summary=f"{current} notifications wait to be delivered, up from {then}",
            description=(
                "Due notifications have kept piling up for ten minutes "
                f"({then}, then {middle}, now {current}): the dispatcher is not keeping up."
            ),
            value=current,
            details={"ten_minutes_ago": then, "five_minutes_ago": middle, "now": current},
        )


def _disk_full() -> Iterator[Finding]:
    path = Path(settings.VAR_DIR)
    while not path.exists() and path != path.parent:
        path = path.parent
    used = disk_usage_percent(str(path))
    limit = settings.SELF_CHECK_DISK_PERCENT
    if used > limit:
        yield Finding(
            check="disk_full",
            subject=str(settings.VAR_DIR),
            summary=f"The disk holding {settings.VAR_DIR} is {used:.1f} % full",
            description=f"Over the {limit:g} % limit: the database, logs and queues may stop.",
            value=round(used, 1),
            details={"path": str(settings.VAR_DIR), "used_percent": round(used, 1)},
        )


def _metrics_backend() -> Iterator[Finding]:
    latest = (
        EvaluationCycle.objects.filter(skipped=False, finished_at__isnull=False)
        .order_by("-started_at", "-pk")
        .first()
    )
    if latest is None or not latest.error.startswith(BACKEND_FAILURE):
        return
    yield Finding(
        check="metrics_backend",
        subject=display_url(),
        summary="The metrics backend failed the latest evaluation cycle",
        description=(
            f"{latest.error[:500]}\nRules that read it keep their alerts as they were and show "
            "the error until the backend answers again."
        ),
        value=float(latest.errors),
        details={"cycle": latest.pk, "error": latest.error[:1000]},
    )


# --- the lifecycle -------------------------------------------------------------------------------


def _fingerprint(rule: Rule, identity: dict[str, str]) -> str:
    return fingerprint_for(Alert.Source.SELF, str(rule.pk), identity)


@transaction.atomic
def reconcile(*, rule: Rule, findings: list[Finding], now: datetime) -> tuple[int, int]:
    """Open an alert for each new finding, resolve those whose problem is gone."""
    wanted = {_fingerprint(rule, finding.identity): finding for finding in findings}
    open_alerts = (
        Alert.objects.select_for_update(of=("self",))
        .filter(rule=rule, source=Alert.Source.SELF, state__in=Alert.OPEN_STATES)
        .order_by("pk")
    )
    held, resolved = set(), 0
    for alert in open_alerts:
        if alert.fingerprint in wanted:
            held.add(alert.fingerprint)
        elif alert.labels.get("check") != WORKERS_OUTAGE:
            close_alert(alert=alert, now=now, actor=ACTOR, reason="the problem is gone")
            resolved += 1
    raised = 0
    if rule.enabled:
        for fingerprint, finding in wanted.items():
            if fingerprint not in held and _raise(rule, finding, now) is not None:
                raised += 1
    return raised, resolved


def _raise(
    rule: Rule, finding: Finding, now: datetime, *, started: datetime | None = None
) -> Alert | None:
    """Open the finding's alert, firing at once (the checks already waited their periods)."""
    alert = Alert(
        source=Alert.Source.SELF,
        rule=rule,
        fingerprint=_fingerprint(rule, finding.identity),
        labels={**{str(k): str(v) for k, v in (rule.labels or {}).items()}, **finding.identity},
        state=Alert.State.FIRING,
        severity=rule.severity,
        rule_name=rule.name,
        rule_version=rule.version,
        value=finding.value,
        summary=finding.summary,
        description=f"{finding.description}\nRunbook: {finding.runbook}",
        details={**finding.details, "runbook": finding.runbook},
        started_at=started or now,
        fired_at=now,
        last_evaluated_at=now,
    )
    try:
        with transaction.atomic():
            alert.save()
    except IntegrityError:  # another self-check opened it first
        return None
    record_event(alert=alert, kind=AlertEvent.Kind.FIRING, actor=ACTOR, now=now)
    logger.warning(
        "self-alert raised: %s", finding.summary, extra={"alert": alert.pk, "check": finding.check}
    )
    return alert


@transaction.atomic
def record_worker_outages(*, rule: Rule, now: datetime) -> int:
    """The workers are back: record each recent silence of the cluster, once, with its length."""
    recorded = 0
    for last_run, back in worker_outages(now=now, lookback=OUTAGE_LOOKBACK):
        seconds = (back - last_run).total_seconds()
        finding = Finding(
            check=WORKERS_OUTAGE,
            subject=last_run.isoformat(),
            summary=f"The worker cluster was down for {_length(seconds)}",
            description=(
                f"No job ran from {last_run.isoformat()} to {back.isoformat()}: no rule was "
                "evaluated and no alert delivered meanwhile. The workers are back."
            ),
            value=round(seconds, 1),
            details={
                "last_run_before": last_run.isoformat(),
                "back_at": back.isoformat(),
                "seconds": round(seconds, 1),
            },
        )
        if Alert.objects.filter(fingerprint=_fingerprint(rule, finding.identity)).exists():
            continue
        alert = _raise(rule, finding, now, started=last_run)
        if alert is not None:
            close_alert(alert=alert, now=now, actor=ACTOR, reason="the workers are back")
            recorded += 1
    return recorded


def _length(seconds: float) -> str:
    minutes, rest = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min {rest} s" if minutes else f"{rest} s"


class BacklogCollector:
    """/metrics: the age of the oldest due, undelivered notification (0 when none waits)."""

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        now = timezone.now()
        oldest = Notification.objects.filter(
            state__in=Notification.PENDING_STATES, due_at__lte=now
        ).aggregate(at=Min("due_at"))["at"]
        family = GaugeMetricFamily(
            "monitoring_notification_oldest_due_age_seconds",
            "How long the oldest due notification has waited to be delivered.",
        )
        family.add_metric([], (now - oldest).total_seconds() if oldest else 0.0)
        yield family
