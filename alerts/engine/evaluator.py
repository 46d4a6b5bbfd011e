"""The evaluator loop (``manage.py run_evaluator``): rules evaluated every few seconds.

One evaluator per cluster holds the heartbeat row (:class:`EvaluatorHeartbeat`) as a lease,
renewed on every turn of its loop and one interval long, so a second evaluator that waits beside
it takes over within one interval when the first dies. The holder plans its own clock:

- **the grid**: every enabled rule at each multiple of ``RULE_EVALUATION_INTERVAL_SECONDS``;
- **for**: a pending alert's rule again at the instant its ``for`` ends (``started_at + for``),
  so an alert fires at that instant rather than at the next grid point after it;
- **samples**: rules whose series just received samples, ``RULE_EVALUATION_DEBOUNCE_SECONDS``
  after the first of them arrived, at most every ``RULE_EVALUATION_MIN_GAP_SECONDS`` per rule,
  and only while evaluating costs less than a third of the interval.

Every cycle evaluates at its planned instant (``run_cycle(due=...)``). The minute django-q2 job
stays as the safety net (:func:`evaluator_alive`, ``alerts.tasks.evaluate_rules``).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import close_old_connections
from django.db.models import Q
from django.utils import timezone

from alerts.engine.cycle import parsed, run_cycle, scheduled_boundary
from alerts.language import RuleError
from alerts.language.tree import Selector, walk
from alerts.models import Alert, EvaluationCycle, EvaluationLease, EvaluatorHeartbeat, Rule
from metrics_app.selectors import series_names_updated

logger = logging.getLogger(__name__)

HEARTBEAT = "evaluator"
POLL_SECONDS = 1.0  # how often the holder looks for new samples, and a standby for the lease
# New samples are looked for from this long before the last look: an ingest transaction that
# stamped its series just before the look may commit just after it.
SAMPLES_OVERLAP = timedelta(seconds=2)
NEVER = datetime.min.replace(tzinfo=UTC)
BUSY_SHARE = 1 / 3  # early evaluations stop while cycles take more than this share of the time


def interval() -> timedelta:
    return timedelta(seconds=settings.RULE_EVALUATION_INTERVAL_SECONDS)


# --- the heartbeat lease ---------------------------------------------------------------------


def hold_heartbeat(*, holder: str, now: datetime) -> bool:
    """Renew the heartbeat if ``holder`` has it, take it if it is free or expired (one UPDATE).

    A takeover frees the evaluation lease a dead holder's cycle may still hold, so the new holder
    does not wait for that lease to expire.
    """
    EvaluatorHeartbeat.objects.bulk_create(
        [EvaluatorHeartbeat(name=HEARTBEAT)], ignore_conflicts=True
    )
    row = EvaluatorHeartbeat.objects.filter(name=HEARTBEAT)
    expires = now + interval()
    if row.filter(holder=holder).update(beat_at=now, expires_at=expires):
        return True
    previous = row.values_list("holder", flat=True).first() or ""
    free = Q(holder="") | Q(expires_at__isnull=True) | Q(expires_at__lte=now)
    taken = row.filter(free).update(
        holder=holder,
        host=socket.gethostname()[:255],
        pid=os.getpid(),
        since=now,
        beat_at=now,
        expires_at=expires,
    )
    if taken and previous:
        EvaluationLease.objects.filter(holder=previous).update(holder="", expires_at=None)
        logger.warning("evaluator took over from a silent holder", extra={"previous": previous})
    return taken == 1


def release_heartbeat(*, holder: str) -> None:
    EvaluatorHeartbeat.objects.filter(name=HEARTBEAT, holder=holder).update(
        holder="", expires_at=None
    )


def heartbeat_at() -> datetime | None:
    """The last turn of the evaluator that holds (or held) the heartbeat."""
    return (
        EvaluatorHeartbeat.objects.filter(name=HEARTBEAT).values_list("beat_at", flat=True).first()
    )


def evaluator_alive(*, now: datetime) -> bool:
    """Whether an evaluator's heartbeat is younger than two intervals."""
    beat = heartbeat_at()
    return beat is not None and now - beat < 2 * interval()


# --- what to evaluate when -------------------------------------------------------------------


@dataclass
class Plan:
    """What the holder has planned: the next grid instant, rules due because of samples."""

    next_grid: datetime | None = None
    samples_since: datetime | None = None
    triggered: dict[int, datetime] = field(default_factory=dict)  # rule -> due instant
    early_at: dict[int, datetime] = field(default_factory=dict)  # rule -> last early evaluation
    for_done: set[tuple[int, datetime]] = field(default_factory=set)  # (alert, due) evaluated
    grid_at: datetime | None = None  # the last grid instant evaluated
    evaluated_at: dict[int, datetime] = field(default_factory=dict)  # rule -> its last instant
    rules_by_series: dict[str, set[int]] = field(default_factory=dict)
    busy: list[tuple[float, float]] = field(default_factory=list)  # (ended, seconds) of cycles


def rules_by_series() -> dict[str, set[int]]:
    """Series name -> the enabled rules whose expression or volume guard selects it."""
    found: dict[str, set[int]] = {}
    rules = Rule.objects.filter(enabled=True, builtin=False).values_list(
        "pk", "expression", "min_volume_expression"
    )
    for pk, expression, guard in rules:
        for text in (expression, guard):
            if not (text or "").strip():
                continue
            try:
                tree = parsed(text)
            except RuleError:
                continue
            for node in walk(tree):
                if isinstance(node, Selector):
                    found.setdefault(node.name, set()).add(pk)
    return found


def pending_ends() -> list[tuple[int, int, datetime]]:
    """(alert, rule, instant its ``for`` ends) of every pending rule alert."""
    rows = Alert.objects.filter(
        source=Alert.Source.RULE, state=Alert.State.PENDING, rule__enabled=True
    ).values_list("pk", "rule_id", "started_at", "rule__for_seconds")
    return [
        (pk, rule_id, started + timedelta(seconds=for_seconds or 0))
        for pk, rule_id, started, for_seconds in rows
    ]


class Evaluator:
    """One evaluator process's loop; :meth:`turn` is one turn (tests call it with a moved clock)."""

    def __init__(
        self, *, holder: str | None = None, clock: Callable[[], datetime] = timezone.now
    ) -> None:
        self.holder = holder or uuid.uuid4().hex
        self.clock = clock
        self.plan = Plan()
        self.holding = False

    def run(self, stop: threading.Event) -> None:
        """Turn until ``stop`` is set, sleeping until the next planned instant."""
        logger.info("evaluator started", extra={"holder": self.holder})
        try:
            while not stop.is_set():
                try:
                    wait = self.turn()
                except Exception:  # a lost database connection: log, back off, try again
                    logger.exception("evaluator turn failed")
                    close_old_connections()
                    wait = POLL_SECONDS
                stop.wait(max(0.0, wait))
        finally:
            release_heartbeat(holder=self.holder)
            logger.info("evaluator stopped", extra={"holder": self.holder})

    def turn(self) -> float:
        """Hold the heartbeat, run what is due, and return how long to sleep (seconds)."""
        now = self.clock()
        if not hold_heartbeat(holder=self.holder, now=now):
            if self.holding:
                logger.warning("evaluator lost the heartbeat to another holder")
            self.holding, self.plan = False, Plan()
            return POLL_SECONDS
        if not self.holding:
            logger.info("evaluator holds the heartbeat", extra={"holder": self.holder})
            self.holding = True
        self._grid(now)
        self._for(now)
        self._samples(now)
        return self._sleep(self.clock())

    # Each source of work runs its cycle at the instant it planned, not at "now".

    def _grid(self, now: datetime) -> None:
        plan = self.plan
        if plan.next_grid is None:
            plan.next_grid = scheduled_boundary(now)
        if now < plan.next_grid:
            return
        # After a stall, one cycle at the latest boundary rather than one per missed boundary.
        due = max(plan.next_grid, scheduled_boundary(now))
        plan.rules_by_series = rules_by_series()
        self._cycle(due, reason=EvaluationCycle.Reason.SCHEDULE)
        plan.next_grid = due + interval()
        plan.triggered = {k: v for k, v in plan.triggered.items() if v > due}
        plan.for_done = {item for item in plan.for_done if item[1] > due - interval()}

    def _for(self, now: datetime) -> None:
        waiting = [
            (pk, rule, at)
            for pk, rule, at in pending_ends()
            if at <= now and (pk, at) not in self.plan.for_done
        ]
        if not waiting:
            return
        due = max(at for _, _, at in waiting)
        self._cycle(due, reason=EvaluationCycle.Reason.FOR, rule_ids={r for _, r, _ in waiting})
        self.plan.for_done |= {(pk, at) for pk, _, at in waiting}

    def _samples(self, now: datetime) -> None:
        plan = self.plan
        since = plan.samples_since or now
        plan.samples_since = now - SAMPLES_OVERLAP
        if since < now:
            gap = timedelta(seconds=settings.RULE_EVALUATION_MIN_GAP_SECONDS)
            debounce = timedelta(seconds=settings.RULE_EVALUATION_DEBOUNCE_SECONDS)
            for name in series_names_updated(since=since):
                for rule in plan.rules_by_series.get(name, ()):
                    last = plan.early_at.get(rule)
                    if rule not in plan.triggered and (last is None or now - last >= gap):
                        plan.triggered[rule] = now + debounce
        ready = {rule for rule, at in plan.triggered.items() if at <= now}
        if not ready:
            return
        due = max(plan.triggered[rule] for rule in ready)
        for rule in ready:
            del plan.triggered[rule]
        if self._busy(now):
            return  # the grid evaluates them: early evaluations would fall behind
        if self._cycle(due, reason=EvaluationCycle.Reason.SAMPLES, rule_ids=ready):
            plan.early_at.update(dict.fromkeys(ready, due))

    def _busy(self, now: datetime) -> bool:
        horizon = time.monotonic() - interval().total_seconds()
        self.plan.busy = [(end, took) for end, took in self.plan.busy if end >= horizon]
        spent = sum(took for _, took in self.plan.busy)
        return spent > BUSY_SHARE * interval().total_seconds()

    def _cycle(
        self, due: datetime, *, reason: str, rule_ids: set[int] | None = None
    ) -> EvaluationCycle | None:
        plan = self.plan
        if rule_ids is not None:
            # A rule's instants only move forward: never evaluate it before its last instant.
            rule_ids = {r for r in rule_ids if self._last_instant(r) < due}
            if not rule_ids:
                return None
        started = time.monotonic()
        cycle = run_cycle(
            self.clock(), due=due, rule_ids=rule_ids, reason=reason, holder=self.holder
        )
        ended = time.monotonic()
        plan.busy.append((ended, ended - started))
        if rule_ids is None:
            plan.grid_at, plan.evaluated_at = due, {}
        else:
            plan.evaluated_at.update(dict.fromkeys(rule_ids, due))
        EvaluatorHeartbeat.objects.filter(name=HEARTBEAT, holder=self.holder).update(
            last_cycle_at=due
        )
        if cycle.error:
            logger.error("evaluation cycle failed", extra={"cycle": cycle.pk})
        return cycle

    def _last_instant(self, rule: int) -> datetime:
        instants = [self.plan.grid_at, self.plan.evaluated_at.get(rule)]
        return max(
            (at for at in instants if at is not None), default=datetime.min.replace(tzinfo=UTC)
        )

    def _sleep(self, now: datetime) -> float:
        """Seconds until the next grid instant, pending end of ``for`` or poll for samples."""
        plan = self.plan
        wake = now + timedelta(seconds=POLL_SECONDS)
        candidates = [wake, *plan.triggered.values()]
        if plan.next_grid is not None:
            candidates.append(plan.next_grid)
        # Ends of for not evaluated yet, including one that passed during this turn's cycles.
        candidates += [at for pk, _, at in pending_ends() if (pk, at) not in plan.for_done]
        return max(0.0, (min(candidates) - now).total_seconds())
