"""Running a rule test file: input series pushed, evaluation cycles run, alerts compared.

Each test places its timeline in the recent past: ``t = 0`` is a whole hour, and the test's last
instant ends before the current hour began (the evaluator's reads of buckets and rollups depend
on how old a window is, so the timeline must be real time). Samples are stored through
``metrics_app.services.store_samples`` (each new series is created at its first sample's time),
rollups are recomputed over the timeline, then ``alerts.engine.cycle.run_cycle`` runs at every
evaluation instant and the open alerts of each rule are read at each ``eval_time``.
"""

from __future__ import annotations

import difflib
import itertools
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from alerts.engine.cycle import run_cycle
from alerts.language.backends import EmbeddedBackend, reading_from
from alerts.models import Alert, Rule
from alerts.rules.services import create_rule
from alerts.rules.testing.isolation import run_isolated
from alerts.rules.testing.spec import (
    AlertCheck,
    ExpectedAlert,
    InputSeries,
    TestCase,
    TestFile,
    with_sample_time,
)
from metrics_app.catalogue import GAUGE, HISTOGRAM, SUMMARY
from metrics_app.ingest import Sample
from metrics_app.services import store_samples
from monitoring_site.api.params import format_duration
from monitoring_site.humanize import format_number

HOUR = 3600


@dataclass(frozen=True)
class SeenAlert:
    """An open alert as a test compares it."""

    labels: dict[str, str]
    state: str
    summary: str
    description: str
    value: float | None


@dataclass
class CheckResult:
    check: AlertCheck
    seen: list[SeenAlert]
    rule_error: str = ""
    diff: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.diff and not self.rule_error


@dataclass
class CaseResult:
    case: TestCase
    checks: list[CheckResult]

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.checks)


@dataclass
class FileResult:
    file: TestFile
    cases: list[CaseResult]

    @property
    def passed(self) -> bool:
        return all(case.passed for case in self.cases)

    def failures(self) -> int:
        return sum(not check.passed for case in self.cases for check in case.checks)


def run_test_file(test_file: TestFile, *, now: datetime | None = None) -> FileResult:
    """Run every test of ``test_file`` on an empty, isolated store (nothing live is read)."""
    now = now or timezone.now()

    def work() -> list[list[tuple[list[SeenAlert], str]]]:
        return [_run_case(test_file, case, now=now) for case in test_file.tests]

    observed = run_isolated(work)
    cases = []
    for case, seen_per_check in zip(test_file.tests, observed, strict=True):
        checks = [
            _compare(check, seen, error)
            for check, (seen, error) in zip(case.checks, seen_per_check, strict=True)
        ]
        cases.append(CaseResult(case, checks))
    return FileResult(test_file, cases)


# --- inside the isolated store ------------------------------------------------------------------


def anchor_for(case: TestCase, now: datetime) -> datetime:
    """``t = 0`` of a test: a whole hour, early enough that the whole timeline is past."""
    hour = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    hours = -(-case.span() // HOUR) + 1
    return hour - timedelta(hours=hours)


def _run_case(test_file: TestFile, case: TestCase, *, now: datetime) -> list[tuple[list, str]]:
    # The inputs are pushed to the embedded store: read them there, whatever METRICS_BACKEND is.
    with transaction.atomic(), reading_from(EmbeddedBackend()):
        try:
            return _evaluate_case(test_file, case, anchor_for(case, now))
        finally:
            transaction.set_rollback(True)  # the next test starts from the empty store


def _evaluate_case(test_file: TestFile, case: TestCase, start: datetime) -> list[tuple[list, str]]:
    rules = {}
    for under_test in test_file.rules:
        rule = create_rule(fields=under_test.fields, user=None, reason="rule test")
        for name in under_test.names:
            rules[name] = rule
    _push(case, start)
    by_time: dict[int, list[int]] = {}
    for index, check in enumerate(case.checks):
        by_time.setdefault(check.eval_time, []).append(index)
    observed: list[tuple[list, str]] = [([], "") for _ in case.checks]
    for instant in case.instants(test_file.evaluation_interval):
        cycle = run_cycle(now=start + timedelta(seconds=instant))
        for index in by_time.get(instant, []):
            rule = rules[case.checks[index].alertname]
            error = (
                cycle.error
                or Rule.objects.filter(pk=rule.pk).values_list("last_error", flat=True).first()
                or ""
            )
            observed[index] = (_open_alerts(rule), error)
    return observed


def _open_alerts(rule: Rule) -> list[SeenAlert]:
    rows = Alert.objects.filter(rule=rule, state__in=Alert.OPEN_STATES).order_by("pk")
    return [
        SeenAlert(
            labels={str(k): str(v) for k, v in (row.labels or {}).items()},
            state=row.state,
            summary=row.summary,
            description=row.description,
            value=row.value,
        )
        for row in rows
    ]


def _push(case: TestCase, start: datetime) -> None:
    """Store the input series as a platform service would have pushed them, then roll up."""
    samples = sorted(
        itertools.chain.from_iterable(_samples(series, case, start) for series in case.series),
        key=lambda sample: sample.at,
    )
    if not samples:
        return
    # One batch per run of samples that creates no series after its first instant, stored "at"
    # that instant: a series exists from its first sample (windows before it do not see it).
    first_seen: dict[tuple[str, tuple], datetime] = {}
    for sample in samples:
        first_seen.setdefault((sample.spec.name, tuple(sorted(sample.labels.items()))), sample.at)
    births = sorted(set(first_seen.values()))
    for low, high in zip(births, [*births[1:], None], strict=True):
        batch = [s for s in samples if s.at >= low and (high is None or s.at < high)]
        store_samples(samples=batch, now=low)
    from metrics_app.aggregation import recompute_rollups as rollup

    rollup(start=samples[0].at - timedelta(hours=1), end=samples[-1].at + timedelta(hours=1))


def _samples(series: InputSeries, case: TestCase, start: datetime) -> Iterable[Sample]:
    assert series.sample is not None
    previous: float | None = None
    for index, point in enumerate(series.points):
        if not isinstance(point, float):
            continue
        at = start + timedelta(seconds=index * case.interval)
        if series.kind in (HISTOGRAM, SUMMARY):
            yield with_sample_time(series.sample, values=(point,) * series.count, at=at)
        elif series.kind == GAUGE:
            yield with_sample_time(series.sample, values=(point,), at=at)
        else:
            increment = _increment(previous, point)
            previous = point
            if increment:
                yield with_sample_time(series.sample, values=(increment,), at=at)
            elif index == _first_value(series):
                # a counter that starts at zero exists from its first point
                yield with_sample_time(series.sample, values=(0.0,), at=at)


def _first_value(series: InputSeries) -> int:
    return next(i for i, point in enumerate(series.points) if isinstance(point, float))


def _increment(previous: float | None, value: float) -> float:
    """A counter's increase at a point: the difference, or the new value after a reset."""
    if previous is None:
        return max(value, 0.0)
    return value - previous if value >= previous else max(value, 0.0)


# --- comparing ---------------------------------------------------------------------------------


def _compare(check: AlertCheck, seen: list[SeenAlert], error: str) -> CheckResult:
    result = CheckResult(check=check, seen=seen, rule_error=error)
    keys_by_labels = {_labels_text(e.labels): set(e.annotations) for e in check.expected}
    want = sorted(_expected_line(alert) for alert in check.expected)
    got = sorted(
        _seen_line(alert, keys_by_labels.get(_labels_text(alert.labels), set())) for alert in seen
    )
    if want != got:
        result.diff = list(
            difflib.unified_diff(want, got, "expected", "got", lineterm="", n=len(want) + len(got))
        )
    return result


def _labels_text(labels: dict[str, str]) -> str:
    inner = ", ".join(f'{name}="{labels[name]}"' for name in sorted(labels))
    return "{" + inner + "}"


def _expected_line(alert: ExpectedAlert) -> str:
    return _line(alert.state, alert.labels, alert.annotations)


def _seen_line(alert: SeenAlert, keys: set[str]) -> str:
    annotations = {"summary": alert.summary, "description": alert.description}
    return _line(alert.state, alert.labels, {k: v for k, v in annotations.items() if k in keys})


def _line(state: str, labels: dict[str, str], annotations: dict[str, str]) -> str:
    text = f"{state} {_labels_text(labels)}"
    for key in sorted(annotations):
        text += f" {key}={annotations[key]!r}"
    return text


def render_result(result: FileResult) -> str:
    """The report of one file: a line per test, a readable diff per failing check."""
    lines = []
    for case in result.cases:
        verdict = "PASS" if case.passed else "FAIL"
        lines.append(f'{verdict} {result.file.name}:{case.case.line}: "{case.case.name}"')
        for check in case.checks:
            if check.passed:
                continue
            when = format_duration(check.check.eval_time)
            lines.append(
                f"  {check.check.alertname} at eval_time {when} "
                f"({result.file.name}:{check.check.line}):"
            )
            if check.rule_error:
                lines.append(f"    rule error: {check.rule_error}")
            lines.extend(f"    {line}" for line in check.diff)
            values = [format_number(a.value) for a in check.seen if a.value is not None]
            if values:
                lines.append(f"    (values seen: {', '.join(values)})")
    return "\n".join(lines)


def summary_counts(results: list[FileResult]) -> tuple[int, int]:
    tests = [case for result in results for case in result.cases]
    return sum(case.passed for case in tests), sum(not case.passed for case in tests)


def result_data(result: FileResult) -> dict[str, Any]:
    """The JSON form of a run (the API's answer)."""
    return {
        "file": result.file.name,
        "passed": result.passed,
        "tests": [
            {
                "name": case.case.name,
                "line": case.case.line,
                "passed": case.passed,
                "failures": [
                    {
                        "alertname": check.check.alertname,
                        "eval_time": format_duration(check.check.eval_time),
                        "line": check.check.line,
                        "rule_error": check.rule_error,
                        "diff": check.diff,
                    }
                    for check in case.checks
                    if not check.passed
                ],
            }
            for case in result.cases
        ],
        "output": render_result(result),
    }
