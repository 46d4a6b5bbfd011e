"""Benchmark of label-regex matching (issue #10, item 2).

The security probe's pattern, ``queue_size{queue=~".*.*…#"}`` with 30 repetitions, evaluated
over 50 stored series whose ``queue`` label values are 10,000 characters long (one of them ends
in ``#`` and matches), in PostgreSQL. Under Python's backtracking ``re`` 10 repetitions took 3.7 s;
with RE2 the whole evaluation must take under 50 ms. The reference, measured in the same run, is
the same read with an exact matcher (``service="queue"``) instead of the regex: what fetching and
decoding those rows costs without any regex. Also printed: RE2 alone over the 50 values.

Run: .venv/bin/python bench/regex.py   (PostgreSQL database mon_bench_regex, created if missing;
set BENCH_DATABASE_URL to use another). Exits 1 when the target is missed.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
DATABASE_URL = os.environ.get(
    "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/mon_bench_regex"
)
os.environ["DATABASE_URL"] = DATABASE_URL
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "monitoring_site.settings")
os.environ.setdefault("TESTING", "true")
os.environ.setdefault("LOG_LEVEL", "WARNING")

import psycopg  # noqa: E402

TARGET_SECONDS = 0.050
SERIES = 50
LENGTH = 10_000
REPETITIONS = 30
RUNS = 15
AT = datetime.now(UTC).replace(microsecond=0)  # recent: the instant reads 1-minute buckets
HOSTILE = 'queue_size{queue=~"' + ".*" * REPETITIONS + '#"}'
EXACT = 'queue_size{service="queue"}'


def ensure_database() -> None:
    name = DATABASE_URL.rsplit("/", 1)[1]
    admin_url = DATABASE_URL.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')


def queue_names() -> list[str]:
    """50 distinct 10,000-character values; the last one ends in "#" (the one that matches)."""
    names = [f"{index:04d}" + "q" * (LENGTH - 4) for index in range(SERIES - 1)]
    return [*names, "x" * (LENGTH - 1) + "#"]


def load_data() -> None:
    from metrics_app.models import Bucket, Series

    Series.objects.all().delete()
    minute = AT.replace(second=0)
    for value, queue in enumerate(queue_names()):
        labels = {"queue": queue, "service": "queue"}
        series = Series.objects.create(
            name="queue_size",
            family="queue_size",
            labels=labels,
            # the key only has to be unique (the column holds 2,000 characters); matchers read
            # the labels themselves
            labels_key=f"queue-{value}",
            kind="gauge",
            value=float(value),
            value_at=AT,
            created_at=AT - timedelta(days=1),
            updated_at=AT,
        )
        Bucket.objects.create(
            series=series,
            start=minute,
            count=1,
            sum=float(value),
            min=float(value),
            max=float(value),
            last=float(value),
            last_at=AT,
        )


def median_of(action: Callable[[], object]) -> float:
    timings = []
    for _ in range(RUNS):
        started = time.perf_counter()
        action()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


def main() -> int:
    ensure_database()
    import django

    django.setup()
    from django.core.management import call_command

    from alerts.language import evaluate, parse
    from alerts.language.regex import compile_label_regex

    call_command("migrate", "metrics_app", verbosity=0)
    load_data()
    hostile, exact = parse(HOSTILE), parse(EXACT)
    matched = evaluate(hostile, at=AT)
    assert [s.value for s in matched.samples] == [SERIES - 1.0], matched  # type: ignore[union-attr]
    assert len(evaluate(exact, at=AT).samples) == SERIES  # type: ignore[union-attr]

    figure = median_of(lambda: evaluate(hostile, at=AT))
    reference = median_of(lambda: evaluate(exact, at=AT))
    regex = compile_label_regex(".*" * REPETITIONS + "#")
    values = queue_names()
    alone = median_of(lambda: [regex.matches(v) for v in values])

    print(f"{SERIES} series with {LENGTH:,}-character label values, {REPETITIONS} repetitions")
    print(f"evaluation with the regex matcher: {figure * 1000:.1f} ms (median of {RUNS})")
    print(f"reference, the same read with an exact matcher: {reference * 1000:.1f} ms")
    print(f"ratio: {figure / reference:.2f}x")
    print(f"RE2 alone over the {SERIES} values: {alone * 1000:.2f} ms")
    met = figure < TARGET_SECONDS
    print(f"target < {TARGET_SECONDS * 1000:.0f} ms: {'met' if met else 'MISSED'}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
