"""Log formatting (text or JSON lines) and a handler writing monitoring-YYYY-MM-DD.log files."""

from __future__ import annotations

import json
import logging
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line, with the record's extra fields as context."""

    def format(self, record: logging.LogRecord) -> str:
        return json.dumps(self.payload(record), default=str)

    def payload(self, record: logging.LogRecord) -> dict[str, object]:
        """The record as a flat mapping: time, level, logger, pid, message, extras, exception."""
        payload: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "pid": record.process,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                payload[key] = value if isinstance(value, str | int | float | bool) else str(value)
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        return payload


class DailyFileHandler(logging.Handler):
    """Appends to ``<directory>/monitoring-YYYY-MM-DD.log``, switching files at UTC midnight.

    Each process opens the day's file in append mode, so gunicorn workers and the worker cluster
    can share one directory without a rotation race (no renames happen).
    """

    def __init__(self, directory: str, prefix: str = "monitoring") -> None:
        super().__init__()
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.prefix = prefix
        self._day = ""
        self._stream: TextIO | None = None
        self._lock = threading.Lock()

    def _path_for(self, day: str) -> Path:
        return self.directory / f"{self.prefix}-{day}.log"

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record) + "\n"
            day = datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%d")
            with self._lock:
                if day != self._day or self._stream is None:
                    self._close_stream()
                    self._stream = open(self._path_for(day), "a", encoding="utf-8")
                    self._day = day
                self._stream.write(line)
                self._stream.flush()
        except Exception:
            self.handleError(record)

    def _close_stream(self) -> None:
        if self._stream is not None:
            self._stream.close()
            self._stream = None

    def close(self) -> None:
        with self._lock:
            self._close_stream()
        super().close()
