"""Recurring maintenance windows: a cron expression read on a time zone's wall clock.

Occurrences are computed on naive wall-clock times (croniter never sees an offset), then each is
placed on the time line with zoneinfo, so daylight-saving changes follow PEP 495:

- a start in the hour the clock skips (01:30 on a spring-forward night in Europe/London) is read
  with the offset before the change, so it begins as far after midnight as written (02:30 BST);
- a start in the hour the clock repeats (01:30 on the autumn night) happens once, the first time;
- the duration is elapsed time: two hours from 01:00 BST on the autumn night end at 02:00 GMT.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadDateError, CroniterError, croniter

MAX_DURATION = timedelta(days=7)
MIN_DURATION = timedelta(minutes=1)
FAR = timedelta(hours=3)  # more than any daylight-saving jump: the margin of wall-clock searches
SEARCH_LIMIT = 2000  # occurrences looked at in one search, at most


@dataclass(frozen=True)
class Recurrence:
    """Every ``cron`` match on ``zone``'s wall clock, lasting ``duration``."""

    cron: str
    duration: timedelta
    zone: ZoneInfo

    def _starts(self, wall: datetime, *, backwards: bool) -> Iterator[datetime]:
        walker = croniter(self.cron, wall)
        for _ in range(SEARCH_LIMIT):
            found = walker.get_prev(datetime) if backwards else walker.get_next(datetime)
            yield found.replace(tzinfo=self.zone).astimezone(UTC)  # fold=0: see the docstring

    def _wall(self, moment: datetime) -> datetime:
        return moment.astimezone(self.zone).replace(tzinfo=None)

    def covering(self, now: datetime) -> tuple[datetime, datetime] | None:
        """The occurrence in force at ``now`` (the latest to start), or None."""
        best: tuple[datetime, datetime] | None = None
        for start in self._starts(self._wall(now) + FAR, backwards=True):
            end = start + self.duration
            if start <= now < end and (best is None or start > best[0]):
                best = (start, end)
            if end < now - FAR:  # every earlier start ends earlier still
                break
        return best

    def after(self, now: datetime, count: int) -> list[tuple[datetime, datetime]]:
        """The next ``count`` occurrences that end after ``now`` (the one in force first)."""
        found: list[tuple[datetime, datetime]] = []
        wall = self._wall(now - self.duration) - FAR
        for start in self._starts(wall, backwards=False):
            end = start + self.duration
            if end > now and (start, end) not in found:
                found.append((start, end))
            if len(found) >= count + 2:  # a little over: daylight saving may reorder a pair
                break
        return sorted(found)[:count]


def recurrence_problems(cron: str, duration_seconds: int | None, zone: str) -> dict[str, str]:
    """What is wrong with a recurrence, by API field (recurrence, duration, time_zone)."""
    problems: dict[str, str] = {}
    tz = _zone(zone)
    if tz is None:
        problems["time_zone"] = f"Unknown time zone {zone!r}; use an IANA name like Europe/London."
    if duration_seconds is None:
        problems["duration"] = "Required with a recurrence (how long each occurrence lasts)."
    elif not MIN_DURATION.total_seconds() <= duration_seconds <= MAX_DURATION.total_seconds():
        problems["duration"] = "Must be at least 1 minute and at most 7 days."
    problem = cron_problem(cron, tz or ZoneInfo("UTC"))
    if problem:
        problems["recurrence"] = problem
    return problems


def cron_problem(cron: str, zone: ZoneInfo) -> str | None:
    fields = cron.split()
    if len(fields) != 5:
        return "Expected a cron expression of 5 fields: minute hour day month weekday."
    if not croniter.is_valid(cron):
        return f"Not a valid cron expression: {cron!r}."
    start = datetime.now(UTC).astimezone(zone).replace(tzinfo=None)
    try:
        croniter(cron, start).get_next(datetime)
    except (CroniterBadDateError, CroniterError):
        return f"{cron!r} never fires (no date matches it)."
    return None


def _zone(name: str) -> ZoneInfo | None:
    if not name or "\x00" in name or len(name) > 64:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def make_recurrence(cron: str, duration_seconds: int, zone: str) -> Recurrence:
    return Recurrence(cron=cron, duration=timedelta(seconds=duration_seconds), zone=ZoneInfo(zone))
