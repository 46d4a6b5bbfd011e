"""Concurrent writers on PostgreSQL: provably overlapping, losing no increment, exact series limits.

The writers are separate processes (one connection each) started against a database of their
own, so these tests run the same way whichever database the rest of the suite uses. They wait at
a barrier; the test then holds the lock they all need until pg_stat_activity shows every writer
waiting on it at once, which proves the overlap, and releases them together.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import zlib
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, LiteralString

import psycopg
import pytest

pytestmark = pytest.mark.slow

BASE_DIR = Path(__file__).resolve().parents[2]
WRITER = Path(__file__).with_name("concurrent_writer.py")
SERVER_URL = os.environ.get(
    "METRICS_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
DB_NAME = f"mon_metrics_concurrency_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"
WRITERS = 4


def _url(name: str) -> str:
    return SERVER_URL.rsplit("/", 1)[0] + f"/{name}"


def _env(url: str, var_dir: Path, **extra: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "REDIS_URL", "PROMETHEUS_MULTIPROC_DIR"}
    }
    env.update(DATABASE_URL=url, TESTING="true", VAR_DIR=str(var_dir), **extra)
    env["DJANGO_SETTINGS_MODULE"] = "monitoring_site.settings"
    return env


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with psycopg.connect(SERVER_URL, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{DB_NAME}"')
    url = _url(DB_NAME)
    var_dir = tmp_path_factory.mktemp("var")
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "metrics_app", "-v0"],
        cwd=BASE_DIR,
        env=_env(url, var_dir),
        check=True,
        timeout=120,
    )
    yield url
    with psycopg.connect(SERVER_URL, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')


@pytest.fixture
def db(database: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(database, autocommit=True) as connection:
        connection.execute(
            "TRUNCATE metrics_app_series, metrics_app_bucket, metrics_app_finebucket, "
            "metrics_app_rollup"
        )
        yield connection


def start_writers(
    url: str, tmp_path: Path, rounds: int, mode: str, **env: str
) -> list[subprocess.Popen[str]]:
    barrier = tmp_path / "barrier"
    barrier.mkdir(parents=True, exist_ok=True)
    processes = [
        subprocess.Popen(
            [sys.executable, str(WRITER), str(barrier), str(i), str(rounds), mode],
            cwd=BASE_DIR,
            env=_env(url, tmp_path, **env),
            stdout=subprocess.PIPE,
            text=True,
        )
        for i in range(WRITERS)
    ]
    deadline = time.monotonic() + 60
    while len(list(barrier.glob("ready-*"))) < WRITERS:
        assert time.monotonic() < deadline, "writers did not reach the barrier"
        assert all(p.poll() is None for p in processes), "a writer died before the barrier"
        time.sleep(0.05)
    return processes


def release_when_all_wait(
    db: psycopg.Connection, holder: psycopg.Connection, tmp_path: Path
) -> int:
    """Open the barrier, wait until every writer waits on the holder's lock, then release it."""
    (tmp_path / "barrier" / "go").touch()
    deadline = time.monotonic() + 60
    waiting = 0
    while waiting < WRITERS:
        assert time.monotonic() < deadline, f"only {waiting} writers waiting at once"
        waiting = scalar(
            db,
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND wait_event_type = 'Lock'",
            [DB_NAME],
        )
        time.sleep(0.02)
    holder.commit()
    return waiting


def outcomes(processes: list[subprocess.Popen[str]]) -> Counter[str]:
    results: Counter[str] = Counter()
    for process in processes:
        out, _ = process.communicate(timeout=120)
        assert process.returncode == 0
        results.update(out.split())
    return results


def scalar(db: psycopg.Connection, sql: LiteralString, params: Sequence[object] = ()) -> Any:
    """The first column of the query's one row."""
    row = db.execute(sql, params).fetchone()
    assert row is not None, sql
    return row[0]


def value(db: psycopg.Connection, name: str, labels_key: str) -> float:
    return scalar(
        db,
        "SELECT value FROM metrics_app_series WHERE name = %s AND labels_key = %s",
        [name, labels_key],
    )


def test_overlapping_writers_lose_no_increment(
    database: str, db: psycopg.Connection, tmp_path: Path
) -> None:
    rounds = 25
    # One round first, so the series exist and the holder can lock one of them.
    seed = start_writers(database, tmp_path / "seed", 1, "increments")
    (tmp_path / "seed" / "barrier" / "go").touch()
    assert outcomes(seed) == Counter(ok=WRITERS)
    with psycopg.connect(database) as holder:
        holder.execute(
            "SELECT id FROM metrics_app_series WHERE name = 'tickets_sold_total' FOR UPDATE"
        )
        writers = start_writers(database, tmp_path, rounds, "increments")
        assert release_when_all_wait(db, holder, tmp_path) == WRITERS
    assert outcomes(writers) == Counter(ok=WRITERS * rounds)

    batches = WRITERS * (rounds + 1)
    assert value(db, "tickets_sold_total", 'service="ticket"') == batches
    assert value(db, "tickets_sold_total", 'service="order"') == 2 * batches
    route = 'route="/buy",service="ticket"'
    assert value(db, "http_request_duration_ms_count", route) == 2 * batches
    assert value(db, "http_request_duration_ms_sum", route) == 4040 * batches
    assert value(db, "http_request_duration_ms_bucket", f'{route},le="50"') == batches
    assert value(db, "http_request_duration_ms_bucket", f'{route},le="+Inf"') == 2 * batches
    assert value(db, "queue_size", 'queue="mint",service="queue"') in range(WRITERS)
    minute_total = db.execute(
        "SELECT sum(b.sum), sum(b.count) FROM metrics_app_bucket b "
        "JOIN metrics_app_series s ON s.id = b.series_id "
        "WHERE s.name = 'tickets_sold_total' AND s.labels_key = 'service=\"order\"'"
    ).fetchone()
    assert minute_total == (2 * batches, batches)


def test_overlapping_writers_cannot_exceed_the_series_limit_together(
    database: str, db: psycopg.Connection, tmp_path: Path
) -> None:
    limit, rounds = 15, 10
    with psycopg.connect(database) as holder:
        # The lock every writer of new errors_total series takes before inserting them.
        key = zlib.crc32(b"metrics_app.series:errors_total")
        holder.execute("SELECT pg_advisory_xact_lock(%s::bigint)", [key])
        writers = start_writers(
            database, tmp_path, rounds, "new-series", METRICS_SERIES_LIMIT=str(limit)
        )
        assert release_when_all_wait(db, holder, tmp_path) == WRITERS
    assert outcomes(writers) == Counter(ok=limit, series_limit=WRITERS * rounds - limit)
    stored = scalar(db, "SELECT count(*) FROM metrics_app_series WHERE name = 'errors_total'")
    assert stored == limit


def test_overlapping_writers_of_one_service_cannot_exceed_its_share_together(
    database: str, db: psycopg.Connection, tmp_path: Path
) -> None:
    share, rounds = 12, 10
    with psycopg.connect(database) as holder:
        key = zlib.crc32(b"metrics_app.series:errors_total")
        holder.execute("SELECT pg_advisory_xact_lock(%s::bigint)", [key])
        writers = start_writers(
            database,
            tmp_path,
            rounds,
            "new-series-of-service",
            METRICS_SERIES_LIMIT="1000",
            METRICS_MAX_SERIES_PER_SERVICE=str(share),
        )
        assert release_when_all_wait(db, holder, tmp_path) == WRITERS
    assert outcomes(writers) == Counter(ok=share, series_limit=WRITERS * rounds - share)
    row = db.execute(
        "SELECT count(*) FROM metrics_app_series WHERE name = 'errors_total' AND service = 'w'"
    ).fetchone()
    assert row is not None
    stored = row[0]
    assert stored == share
