"""Benchmark of `make demo` (issue 15): time to the first alert in the inbox, and to every default
rule but Revenue Drop having fired once.

`make demo` runs with the venv already installed, in a temporary demo directory and database
(DEMO_DIR, DEMO_DATABASE) on free ports, from nothing: migrations, bootstrap, the history backfill
and the built-in scenario all count. Targets: the first alert in the inbox within 3 minutes, every
default rule but Revenue Drop fired within 15. The reference, measured in the same run, is the
time `make demo` takes until the service answers /status (start-up alone). Rules that fired are
read from the demo database's alerts (SQLite, read-only). Ctrl-C (SIGINT to the process group)
then stops the demo; the benchmark checks that it does within 30 s.

Run: .venv/bin/python bench/demo.py   (about 15 minutes; exits 1 on a miss)
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIRST_TARGET = 180.0
ALL_TARGET = 900.0
EXEMPT = "revenue-drop"
STRIP = ("REDIS_URL", "DATABASE_URL", "DEMO_", "SLACK_", "PAGERDUTY_", "SMTP_", "ALERT_")


def free_block(size: int) -> int:
    for _ in range(100):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            base = int(probe.getsockname()[1])
        if base + size < 65535 and all(_free(base + i) for i in range(size)):
            return base
    raise SystemExit(f"no {size} free ports in a row")


def _free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (loopback)
            return bool(response.status == 200)
    except OSError:
        return False


def fired(database: Path) -> tuple[set[str], dict[str, str], set[str]]:
    """(slugs of every rule, slug -> first fired_at, slugs with a resolved alert)."""
    if not database.exists():
        return set(), {}, set()
    try:
        with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=5) as db:
            rules = {slug for (slug,) in db.execute("SELECT slug FROM alerts_rule")}
            rows = db.execute(
                "SELECT r.slug, MIN(a.fired_at) FROM alerts_alert a JOIN alerts_rule r "
                "ON a.rule_id = r.id WHERE a.fired_at IS NOT NULL GROUP BY r.slug"
            ).fetchall()
            resolved = {
                slug
                for (slug,) in db.execute(
                    "SELECT DISTINCT r.slug FROM alerts_alert a JOIN alerts_rule r "
                    "ON a.rule_id = r.id WHERE a.fired_at IS NOT NULL AND a.state = 'resolved'"
                )
            }
    except sqlite3.Error:
        return set(), {}, set()
    return rules, dict(rows), resolved


def inbox_count(path: Path) -> int:
    try:
        return sum(1 for line in path.read_text().splitlines() if line.strip())
    except FileNotFoundError:
        return 0


def main() -> int:
    work = Path(tempfile.mkdtemp(prefix="bench-demo-"))
    port, services, receivers = free_block(1), free_block(21), free_block(4)
    env = {k: v for k, v in os.environ.items() if not k.startswith(STRIP)}
    env.update(
        DEMO_DIR=str(work / "demo"),
        DEMO_DATABASE=str(work / "demo.sqlite3"),
        DEMO_PORT=str(port),
        DEMO_SERVICE_PORT=str(services),
        DEMO_RECEIVER_PORT=str(receivers),
    )
    inbox, database = work / "demo" / "inbox.jsonl", work / "demo.sqlite3"
    log = (work / "make-demo.log").open("wb")
    started = time.monotonic()
    demo = subprocess.Popen(
        ["make", "demo"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    status_at = first_at = all_at = None
    fired_at: dict[str, float] = {}
    wanted: set[str] = set()
    try:
        while time.monotonic() - started < ALL_TARGET + 60 and demo.poll() is None:
            now = time.monotonic() - started
            if status_at is None and answers(f"http://127.0.0.1:{port}/status"):
                status_at = now
            if first_at is None and inbox_count(inbox):
                first_at = now
            rules, first, _ = fired(database)
            wanted = wanted or (rules - {EXEMPT})
            for slug in first:
                fired_at.setdefault(slug, now)
            if wanted and wanted <= set(fired_at) and first_at is not None:
                all_at = now
                break
            time.sleep(2)
    finally:
        stop_began = time.monotonic()
        stopped: float | None = None
        if demo.poll() is None:
            os.killpg(demo.pid, signal.SIGINT)
        try:
            demo.wait(timeout=30)
            stopped = time.monotonic() - stop_began
        except subprocess.TimeoutExpired:
            os.killpg(demo.pid, signal.SIGKILL)
        log.close()
    _, _, resolved = fired(database)
    report = {
        "status_s": status_at,
        "first_alert_s": first_at,
        "all_but_revenue_drop_s": all_at,
        "fired_s": {slug: round(at) for slug, at in sorted(fired_at.items(), key=lambda i: i[1])},
        "missing": sorted(wanted - set(fired_at)),
        "resolved": sorted(resolved),
        "inbox_messages": inbox_count(inbox),
        "stopped_after_ctrl_c_s": stopped,
        "log": str(work / "make-demo.log"),
    }
    print(json.dumps(report, indent=2))
    reference = status_at or float("nan")
    if first_at is not None:
        print(f"first alert in the inbox: {first_at:.0f} s ({first_at / reference:.1f}x start-up "
              f"of {reference:.0f} s; target {FIRST_TARGET:.0f} s)")  # fmt: skip
    if all_at is not None:
        print(f"every default rule but Revenue Drop fired: {all_at:.0f} s "
              f"({all_at / reference:.1f}x start-up; target {ALL_TARGET:.0f} s)")  # fmt: skip
    misses = []
    if first_at is None or first_at > FIRST_TARGET:
        misses.append("first alert")
    if all_at is None or all_at > ALL_TARGET:
        misses.append("all rules")
    if stopped is None:
        misses.append("Ctrl-C did not stop make demo within 30 s")
    print("MISS: " + ", ".join(misses) if misses else "targets met")
    return 1 if misses else 0


if __name__ == "__main__":
    sys.exit(main())
