"""The demo inbox: what the demo's local receivers got, one JSON object a line in a file.

The receivers run in the simulator's process and the inbox page in the web server's, so the file
(``DEMO_INBOX_FILE``) is the hand-off; nothing of it lives in the service's database.
"""

from __future__ import annotations

import json
import threading
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

_lock = threading.Lock()
MAX_TEXT = 2000


@dataclass(frozen=True)
class Delivery:
    """One message a receiver accepted: which channel, to whom, its title and text."""

    channel: str  # email | slack | pagerduty | webhook
    to: str
    title: str
    text: str
    at: str = ""

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Delivery:
        fields = ("channel", "to", "title", "text", "at")
        return cls(**{name: str(data.get(name, "")) for name in fields})


def record(path: Path, delivery: Delivery) -> Delivery:
    """Append ``delivery`` (stamped now, text shortened) to the inbox file."""
    stamped = Delivery(
        channel=delivery.channel,
        to=delivery.to[:200],
        title=delivery.title[:300],
        text=delivery.text[:MAX_TEXT],
        at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    line = json.dumps(asdict(stamped), ensure_ascii=False) + "\n"
    with _lock:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as inbox:
            inbox.write(line)
    return stamped


def read(path: Path, *, limit: int = 200) -> list[Delivery]:
    """The newest ``limit`` deliveries, newest first (an unreadable line is skipped)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    out: list[Delivery] = []
    for line in reversed(lines):
        try:
            data = json.loads(line)
        except ValueError:
            continue
        if isinstance(data, dict):
            out.append(Delivery.from_json(data))
        if len(out) >= limit:
            break
    return out
