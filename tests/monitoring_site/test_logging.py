"""Logs: text or JSON lines on stdout, and with LOG_DIR daily monitoring-YYYY-MM-DD.log files."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from pathlib import Path

from monitoring_site.logging import DailyFileHandler, JsonFormatter
from tests.monitoring_site.conftest import Run

EMIT = (
    "import logging, django; django.setup();"
    "log = logging.getLogger('monitoring_site.probe');"
    "log.info('round finished in %s ms', 12, extra={'job': 'health.round', 'services': 21});"
    "log.debug('not shown at INFO')"
)


def _record(message: str, created: datetime, **extra: object) -> logging.LogRecord:
    record = logging.makeLogRecord(
        {"name": "alerts.engine", "levelname": "WARNING", "levelno": 30, "msg": message, **extra}
    )
    record.created = created.timestamp()
    return record


def test_json_lines_carry_time_level_logger_message_and_context() -> None:
    record = _record("rule %s fired", datetime(2026, 3, 1, 8, 30, tzinfo=UTC), alert_id=42)
    record.args = ("cpu-high",)
    line = json.loads(JsonFormatter().format(record))
    assert line["time"] == "2026-03-01T08:30:00+00:00"
    assert line["level"] == "WARNING"
    assert line["logger"] == "alerts.engine"
    assert line["message"] == "rule cpu-high fired"
    assert line["alert_id"] == 42
    assert isinstance(line["pid"], int)


def test_json_lines_include_the_exception() -> None:
    try:
        raise ValueError("bad threshold")
    except ValueError:
        record = _record("failed", datetime.now(UTC))
        record.exc_info = sys.exc_info()
    line = json.loads(JsonFormatter().format(record))
    assert "ValueError: bad threshold" in line["exception"]


def test_json_lines_stringify_odd_context_values() -> None:
    record = _record("x", datetime.now(UTC), path=Path("/tmp/a"), labels={"env": "prod"})
    line = json.loads(JsonFormatter().format(record))
    assert line["path"] == "/tmp/a"
    assert line["labels"] == "{'env': 'prod'}"


def test_the_daily_file_switches_at_utc_midnight(tmp_path: Path) -> None:
    handler = DailyFileHandler(str(tmp_path / "logs"))
    handler.setFormatter(logging.Formatter("%(message)s"))
    handler.emit(_record("before midnight", datetime(2026, 3, 1, 23, 59, 59, tzinfo=UTC)))
    handler.emit(_record("after midnight", datetime(2026, 3, 2, 0, 0, 1, tzinfo=UTC)))
    handler.emit(_record("still day two", datetime(2026, 3, 2, 9, 0, tzinfo=UTC)))
    handler.close()
    files = sorted(p.name for p in (tmp_path / "logs").iterdir())
    assert files == ["monitoring-2026-03-01.log", "monitoring-2026-03-02.log"]
    assert (tmp_path / "logs/monitoring-2026-03-01.log").read_text() == "before midnight\n"
    day_two = (tmp_path / "logs/monitoring-2026-03-02.log").read_text()
    assert day_two == "after midnight\nstill day two\n"


def test_the_daily_file_appends_across_restarts(tmp_path: Path) -> None:
    when = datetime(2026, 3, 1, 10, tzinfo=UTC)
    for message in ("first process", "second process"):
        handler = DailyFileHandler(str(tmp_path))
        handler.setFormatter(logging.Formatter("%(message)s"))
        handler.emit(_record(message, when))
        handler.close()
    assert (tmp_path / "monitoring-2026-03-01.log").read_text() == (
        "first process\nsecond process\n"
    )


def test_log_format_json_and_log_dir_from_the_environment(run_django: Run, tmp_path: Path) -> None:
    log_dir = tmp_path / "logs"
    result = run_django(code=EMIT, LOG_FORMAT="json", LOG_DIR=str(log_dir), LOG_LEVEL="INFO")
    assert result.returncode == 0, result.stderr[-2000:]
    stdout_lines = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    ours = [line for line in stdout_lines if line["logger"] == "monitoring_site.probe"]
    assert len(ours) == 1
    assert ours[0]["message"] == "round finished in 12 ms"
    assert (ours[0]["job"], ours[0]["services"]) == ("health.round", 21)
    day = datetime.now(UTC).strftime("%Y-%m-%d")
    written = (log_dir / f"monitoring-{day}.log").read_text().splitlines()
    assert [json.loads(line)["message"] for line in written if "probe" in line] == [
        "round finished in 12 ms"
    ]


def test_text_format_and_log_level_from_the_environment(run_django: Run) -> None:
    result = run_django(code=EMIT, LOG_FORMAT="text", LOG_LEVEL="DEBUG")
    assert result.returncode == 0, result.stderr[-2000:]
    lines = [line for line in result.stdout.splitlines() if "monitoring_site.probe" in line]
    assert len(lines) == 2
    assert " INFO monitoring_site.probe " in lines[0]
    assert lines[0].endswith("round finished in 12 ms")
    assert lines[1].endswith("not shown at INFO")
    quiet = run_django(code=EMIT, LOG_LEVEL="WARNING")
    assert "monitoring_site.probe" not in quiet.stdout
