"""The default SQLite set-up lets the web server and the worker write at once."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.monitoring_site.conftest import BASE_DIR, production_env

# Read, then write, in one transaction: with SQLite's default DEFERRED transactions two such
# writers deadlock on the lock upgrade and one fails at once with "database is locked", whatever
# the busy timeout. IMMEDIATE transactions take the write lock first and simply queue.
WRITER = """
import django, sys
django.setup()
from django.db import transaction
from django.utils import timezone
from monitoring_site.models import JobRun
for i in range(150):
    with transaction.atomic():
        seen = JobRun.objects.filter(job=sys.argv[1]).count()
        JobRun.objects.create(job=sys.argv[1], started_at=timezone.now(), result=str(seen))
print("done")
"""


def _env(var_dir: Path) -> dict[str, str]:
    return production_env(var_dir, HTTPS="false")


@pytest.mark.slow
def test_two_processes_write_to_the_default_sqlite_file_without_locking_errors(
    tmp_path: Path,
) -> None:
    env = _env(tmp_path)
    migrate = subprocess.run(
        [sys.executable, "manage.py", "migrate", "monitoring_site", "--noinput"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert migrate.returncode == 0, migrate.stderr[-2000:]
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, name],
            cwd=BASE_DIR,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("web", "worker")
    ]
    results = [writer.communicate(timeout=300) for writer in writers]
    for writer, (out, err) in zip(writers, results, strict=True):
        assert writer.returncode == 0, err[-2000:]
        assert out.strip() == "done"
    check = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from django.db import connection;"
            "from monitoring_site.models import JobRun;"
            "c = connection.cursor(); c.execute('PRAGMA journal_mode');"
            "print(c.fetchone()[0], JobRun.objects.filter(job='web').count(),"
            " JobRun.objects.filter(job='worker').count())",
        ],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert check.stdout.split() == ["wal", "150", "150"], check.stderr[-2000:]
