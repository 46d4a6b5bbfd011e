"""``manage.py test_rules``: passing and failing files, malformed ones, and the isolated store."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from alerts.models import Alert, EvaluationCycle, Rule
from metrics_app.ingest import parse_samples
from metrics_app.models import Bucket, Series
from metrics_app.services import store_samples

pytestmark = pytest.mark.django_db
FILES = Path(__file__).parent / "files"


def run(*files: str | Path) -> tuple[str, str, int]:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("test_rules", *map(str, files), stdout=out, stderr=err)
    except CommandError as exc:
        return out.getvalue(), err.getvalue(), exc.returncode
    return out.getvalue(), err.getvalue(), 0


def test_a_passing_file_passes_and_exits_zero() -> None:
    out, err, code = run(FILES / "queue_passing.yaml")
    assert code == 0, out + err
    assert "PASS " in out and "a deep queue fires after five minutes" in out
    assert "1 passed, 0 failed, 0 file(s) not run" in out


def test_a_failing_file_prints_its_diff_and_exits_one() -> None:
    name = str(FILES / "queue_failing.yaml")
    out, _err, code = run(name)
    assert code == 1
    lines = out.splitlines()
    assert f'FAIL {name}:11: "expects firing too early"' in lines
    assert f"  Queue deep at eval_time 2m ({name}:16):" in lines
    assert "    -firing {queue=\"mint\"} summary='mint has 1001 jobs'" in lines
    assert "    +pending {queue=\"mint\"} summary='mint has 1001 jobs'" in lines
    assert f'PASS {name}:21: "passes"' in lines
    assert "1 passed, 1 failed, 0 file(s) not run" in lines


def test_a_malformed_file_is_named_with_its_line_and_the_others_still_run(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("rules: []\ntests:\n  - name: x\n    alert_rule_tests: []\n")
    out, err, code = run(broken, FILES / "queue_passing.yaml")
    assert code == 1
    assert err.strip().startswith(f"{broken}:4: unknown key 'alert_rule_tests'")
    assert "Traceback" not in err + out
    assert "1 passed, 0 failed, 1 file(s) not run" in out


def test_a_missing_file_is_reported_not_raised(tmp_path: Path) -> None:
    _out, err, code = run(tmp_path / "nowhere.yaml")
    assert code == 1
    assert "nowhere.yaml: cannot read the file" in err


def live_queue(value: float) -> None:
    now = timezone.now()
    raw = [
        {"metric": "queue_size", "labels": {"service": "queue", "queue": "mint"}, "value": value}
    ]
    samples, errors = parse_samples(raw, now=now, service=None, multi_service=True)
    assert not errors
    store_samples(samples=samples, now=now)


def test_the_run_neither_reads_nor_writes_the_live_store(make_rule: Any, tmp_path: Path) -> None:
    """A live rule is tested by slug; live series would fire it, the test's own data does not."""
    rule = make_rule(name="Live queue", expression="max(queue_size)", threshold=1000)
    live_queue(5000)
    before = (Series.objects.count(), Bucket.objects.count(), Alert.objects.count())
    cycles = EvaluationCycle.objects.count()
    test = tmp_path / "live.yaml"
    test.write_text(
        "rules: [live-queue]\n"
        "tests:\n"
        "  - input_series:\n"
        '      - series: \'queue_size{service="queue", queue="mint"}\'\n'
        "        values: '10x30'\n"
        "    alert_rule_test:\n"
        "      - eval_time: 10m\n"
        "        alertname: live-queue\n"
        "        exp_alerts: []\n"
    )
    out, err, code = run(test)
    assert code == 0, out + err
    assert (Series.objects.count(), Bucket.objects.count(), Alert.objects.count()) == before
    assert EvaluationCycle.objects.count() == cycles
    rule.refresh_from_db()
    assert rule.last_evaluated_at is None  # the live row was never evaluated
    assert Rule.objects.filter(slug="live-queue").count() == 1
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'ruletest_%%'")
            assert cursor.fetchone()[0] == 0  # the throwaway schema went with its transaction
