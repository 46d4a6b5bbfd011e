"""Silences (label matchers, as in Alertmanager) and maintenance windows (per service).

Both mute notifications only: a silenced alert still runs its lifecycle and records its events.
The matching logic lives on the models and does no I/O, so it is cheap to call per alert.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from simple_history.models import HistoricalRecords

from alerts.language.regex import regex_matches, regex_problem
from alerts.silences.recurrence import Recurrence, make_recurrence, recurrence_problems
from monitoring_site.text import unstorable_text

__all__ = [
    "NO_END",
    "MaintenanceWindow",
    "Silence",
    "matcher_matches",
    "validate_matchers",
]

MATCH_OPS = ("=", "!=", "=~", "!~")
LABEL_NAME_RE = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")  # fullmatch: "$" would allow a final "\n"
SERVICE_SLUG_RE = re.compile(r"[-a-zA-Z0-9_]{1,64}")
# Pseudo-labels every alert carries beside its own labels (they win over a label of that name).
PSEUDO_LABELS = ("alertname", "severity", "source")
MAX_MATCHERS = 32
MAX_VALUE_LENGTH = 1000
MAX_REGEX_LENGTH = 200
MAX_SERVICES = 100

# A label value, or the aliases of one (alertname is the rule's name and its slug).
LabelValue = str | Sequence[str]


class State(models.TextChoices):
    """Alertmanager's words: pending (starts later), active, expired."""

    PENDING = "pending"
    ACTIVE = "active"
    EXPIRED = "expired"


def _one_matches(op: str, expected: str, value: str) -> bool:
    """The positive form of ``op`` (``=`` or ``=~``) against one value."""
    if op in ("=", "!="):
        return value == expected
    # fully anchored: "=~pay" does not match "payment" (as in Alertmanager and PromQL)
    return regex_matches(expected, value)


def matcher_matches(matcher: Mapping[str, str], value: LabelValue | None) -> bool:
    """One matcher against a label value; a missing label is the empty string (Alertmanager).

    With aliases (alertname), ``=``/``=~`` match when any alias does, and ``!=``/``!~`` are their
    negation, so ``alertname!=x`` never silences an alert whose name or slug is ``x``.
    """
    op, expected = matcher["op"], matcher["value"]
    values = [value] if isinstance(value, str) else list(value or []) or [""]
    positive = any(_one_matches(op, expected, item) for item in values)
    return positive if op in ("=", "=~") else not positive


def _matcher_problem(raw: Any) -> str | None:
    """What is wrong with one matcher (``"op: ..."`` names the key), or None."""
    if not isinstance(raw, dict):
        return "expected an object with name, value and op"
    unknown = sorted(set(raw) - {"name", "value", "op", "isRegex", "isEqual"})
    if unknown:
        return f"unknown key(s) {', '.join(map(str, unknown))}"
    name, value, op = raw.get("name"), raw.get("value"), _op_of(raw)
    if not isinstance(name, str) or not LABEL_NAME_RE.fullmatch(name):
        return "name: expected a label name ([a-zA-Z_][a-zA-Z0-9_]*)"
    if not isinstance(value, str):
        return "value: expected a string"
    unstorable = unstorable_text(value)  # PostgreSQL refuses NUL; a surrogate is not UTF-8
    if unstorable:
        return f"value: {unstorable}"
    if op not in MATCH_OPS:
        return f"op: unknown operator {op!r}; expected one of {', '.join(MATCH_OPS)}"
    if len(value) > MAX_VALUE_LENGTH:
        return f"value: longer than {MAX_VALUE_LENGTH} characters"
    if op in ("=~", "!~"):
        if len(value) > MAX_REGEX_LENGTH:
            return f"value: regex longer than {MAX_REGEX_LENGTH} characters"
        problem = regex_problem(value)
        if problem:
            return f"value: regex {problem}"
    return None


def _op_of(raw: dict[str, Any]) -> Any:
    """``op``, or Alertmanager API v2's ``isRegex``/``isEqual`` pair when ``op`` is absent."""
    if "op" in raw or not ({"isRegex", "isEqual"} & set(raw)):
        return raw.get("op", "=")
    regex, equal = raw.get("isRegex", False), raw.get("isEqual", True)
    if not isinstance(regex, bool) or not isinstance(equal, bool):
        return None
    return {(False, True): "=", (False, False): "!=", (True, True): "=~", (True, False): "!~"}[
        (regex, equal)
    ]


def validate_matchers(raw: Any) -> list[dict[str, str]]:
    """The matchers, normalised to ``{name, value, op}``; ValidationError naming ``matchers``."""
    if not isinstance(raw, list) or not raw:
        raise ValidationError({"matchers": ["Expected a non-empty list of matchers."]})
    if len(raw) > MAX_MATCHERS:
        raise ValidationError({"matchers": [f"At most {MAX_MATCHERS} matchers."]})
    found = ((index, _matcher_problem(matcher)) for index, matcher in enumerate(raw))
    problems = [f"{index}.{problem}" for index, problem in found if problem]
    if problems:
        raise ValidationError({"matchers": problems})
    matchers = [{"name": m["name"], "value": m["value"], "op": _op_of(m)} for m in raw]
    # As Alertmanager: a silence whose every matcher matches an empty label would silence all.
    if all(matcher_matches(m, "") for m in matchers):
        raise ValidationError(
            {"matchers": ["At least one matcher must not match the empty string."]}
        )
    return matchers


# The end of a recurring window that repeats until it is expired.
NO_END = datetime(9999, 1, 1, tzinfo=UTC)
# What the API calls the fields whose model names differ.
API_FIELDS = {"duration_seconds": "duration"}


def _window_problems(starts_at: datetime | None, ends_at: datetime | None) -> dict[str, list]:
    if ends_at is None:
        return {"ends_at": ["This field is required."]}
    if starts_at is None:
        return {}
    if ends_at <= starts_at:
        return {"ends_at": ["Must be after starts_at."]}
    longest = settings.SILENCE_MAX_DAYS
    if (ends_at - starts_at).total_seconds() > longest * 86400:
        return {"ends_at": [f"A silence lasts at most {longest} days (SILENCE_MAX_DAYS)."]}
    return {}


class _Window(models.Model):
    """What silences and maintenance windows share: a time range, an author, early expiry."""

    starts_at = models.DateTimeField(db_index=True)
    ends_at = models.DateTimeField(
        db_index=True,
        blank=True,  # a recurring maintenance window may repeat until expired (clean() checks)
        help_text="Moved to now when expired early.",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    expired_at = models.DateTimeField(null=True, blank=True, help_text="Expired early at.")
    expired_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        abstract = True

    def is_active(self, now: datetime) -> bool:
        return self.starts_at <= now < self.ends_at

    def active_until(self, now: datetime) -> datetime:
        """When the muting in force at ``now`` ends (a recurring window: this occurrence)."""
        return self.ends_at

    def state(self, now: datetime) -> str:
        if now < self.starts_at:
            return State.PENDING
        return State.ACTIVE if now < self.ends_at else State.EXPIRED

    def suppression_key(self) -> str:
        raise NotImplementedError


class Silence(_Window):
    """Mutes notifications of alerts whose labels match every matcher, between two instants."""

    matchers = models.JSONField(
        default=list,
        blank=True,  # clean() says what is wrong with an empty list
        help_text='e.g. [{"name": "service", "op": "=", "value": "payment"}]; ops =, !=, =~, !~.',
    )
    comment = models.TextField()

    history = HistoricalRecords()

    class Meta:
        ordering = ["-starts_at", "-pk"]

    def __str__(self) -> str:
        return f"silence {self.pk}: {self.matchers_text()}"

    def matchers_text(self) -> str:
        """``{service="payment", alertname=~"High.*"}``, as Alertmanager shows it."""
        return "{" + ", ".join(f'{m["name"]}{m["op"]}"{m["value"]}"' for m in self.matchers) + "}"

    def matches(self, labels: Mapping[str, LabelValue]) -> bool:
        return bool(self.matchers) and all(
            matcher_matches(m, labels.get(m["name"])) for m in self.matchers
        )

    def suppression_key(self) -> str:
        return f"silence:{self.pk}"

    def clean(self) -> None:
        errors: dict[str, list] = {}
        try:
            self.matchers = validate_matchers(self.matchers)
        except ValidationError as exc:
            errors.update(exc.message_dict)
        if not (self.comment or "").strip():
            errors["comment"] = ["A comment is required (why, and until when)."]
        errors.update(_window_problems(self.starts_at, self.ends_at))
        if errors:
            raise ValidationError(errors)


class MaintenanceWindow(_Window):
    """Mutes every alert of the listed services (``service`` label, and their service_down).

    One-off from ``starts_at`` to ``ends_at``, or recurring: every ``recurrence`` (cron, on
    ``time_zone``'s wall clock) for ``duration_seconds``, from ``starts_at`` until ``ends_at``
    (``NO_END``: until expired). See alerts/silences/recurrence.py for daylight saving.
    """

    name = models.CharField(max_length=200)
    services = models.JSONField(
        default=list, blank=True, help_text='Service slugs, e.g. ["payment"].'
    )
    comment = models.TextField(blank=True)
    recurrence = models.CharField(
        max_length=100,
        blank=True,
        help_text='Empty: one-off. A cron expression, e.g. "0 2 * * 0" (Sundays at 02:00).',
    )
    duration_seconds = models.PositiveIntegerField(
        "duration (seconds)",
        null=True,
        blank=True,
        help_text="How long each occurrence lasts (recurring windows; at most 7 days).",
    )
    time_zone = models.CharField(
        max_length=64,
        default="UTC",
        blank=True,
        help_text="The wall clock the recurrence is read on, e.g. Europe/London.",
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["-starts_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.name} ({', '.join(self.services)})"

    def matches(self, labels: Mapping[str, LabelValue]) -> bool:
        service = labels.get("service")
        return isinstance(service, str) and service in self.services

    def suppression_key(self) -> str:
        return f"maintenance_window:{self.pk}"

    def is_recurring(self) -> bool:
        return bool(self.recurrence.strip())

    def recurrence_rule(self) -> Recurrence:
        return make_recurrence(self.recurrence, self.duration_seconds or 0, self.time_zone or "UTC")

    def occurrence_at(self, now: datetime) -> tuple[datetime, datetime] | None:
        """The interval in force at ``now``, cut to the window's start and end; or None."""
        if not self.starts_at <= now < self.ends_at:
            return None
        if not self.is_recurring():
            return (self.starts_at, self.ends_at)
        found = self.recurrence_rule().covering(now)
        if found is None:
            return None
        return (max(found[0], self.starts_at), min(found[1], self.ends_at))

    def is_active(self, now: datetime) -> bool:
        return self.occurrence_at(now) is not None

    def active_until(self, now: datetime) -> datetime:
        found = self.occurrence_at(now)
        return found[1] if found is not None else self.ends_at

    def state(self, now: datetime) -> str:
        if now >= self.ends_at:
            return State.EXPIRED
        return State.ACTIVE if self.is_active(now) else State.PENDING

    def next_occurrences(self, now: datetime, count: int = 3) -> list[tuple[datetime, datetime]]:
        """The next ``count`` intervals (the one in force first), within start and end."""
        if now >= self.ends_at:
            return []
        if not self.is_recurring():
            return [(self.starts_at, self.ends_at)]
        found = []
        for start, end in self.recurrence_rule().after(max(now, self.starts_at), count + 1):
            if start >= self.ends_at:
                break
            found.append((max(start, self.starts_at), min(end, self.ends_at)))
        return found[:count]

    def clean(self) -> None:
        errors: dict[str, list] = {}
        if not (self.name or "").strip():
            errors["name"] = ["A name is required."]
        services = self.services
        if not isinstance(services, list) or not services or len(services) > MAX_SERVICES:
            errors["services"] = [f"Expected a list of 1 to {MAX_SERVICES} service slugs."]
        else:
            bad = [
                s for s in services if not isinstance(s, str) or not SERVICE_SLUG_RE.fullmatch(s)
            ]
            if bad:
                errors["services"] = [f"Not service slugs: {', '.join(map(str, bad))}."]
        if self.is_recurring():
            self.recurrence = " ".join(self.recurrence.split())
            self.time_zone = self.time_zone or "UTC"
            found = recurrence_problems(self.recurrence, self.duration_seconds, self.time_zone)
            model_names = {api: model for model, api in API_FIELDS.items()}
            errors.update({model_names.get(k, k): [v] for k, v in found.items()})
            if self.ends_at is None:
                self.ends_at = NO_END
            if self.starts_at is not None and self.ends_at <= self.starts_at:
                errors["ends_at"] = ["Must be after starts_at."]
        else:
            if self.duration_seconds is not None:
                errors["duration_seconds"] = [
                    "Only with a recurrence (a one-off window ends at ends_at)."
                ]
            errors.update(_window_problems(self.starts_at, self.ends_at))
        if errors:
            raise ValidationError(errors)
