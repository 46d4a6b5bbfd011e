"""A real SMTP server (aiosmtpd) on 127.0.0.1 in a thread: records messages, fails on command.

with SmtpServer() as smtp:
    smtp.reply(451, times=1)                  # next DATA answers 451, then 250 again
    smtp.reply(550, stage="RCPT")             # next recipient refused with 550
    smtp.reject("nobody@example.com")         # this address always gets 550 5.1.1
    ... send ...
    smtp.messages[0].message["Subject"]
"""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

TEXTS = {
    421: "4.3.0 Service not available, closing channel",
    450: "4.2.1 Mailbox busy, try again later",
    451: "4.3.0 Local error in processing, try again later",
    452: "4.3.1 Insufficient system storage",
    550: "5.1.1 Mailbox unavailable",
    552: "5.3.4 Message too big",
    554: "5.7.1 Message rejected",
}


@dataclass
class Received:
    """One accepted message: the envelope, the parsed message, the queue id it was given and
    when it arrived (the real clock, as the HTTP fakes record it)."""

    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    queue_id: str
    at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def part(self, content_type: str) -> str:
        """The decoded body of the first part of ``content_type`` (text/plain, text/html)."""
        for part in self.message.walk():
            if part.get_content_type() == content_type:
                return str(part.get_content())
        raise KeyError(content_type)


class _Handler:
    def __init__(self, server: SmtpServer) -> None:
        self.server = server

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        reply = self.server._take("RCPT", address)
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        reply = self.server._take("DATA", "")
        if reply:
            return reply
        return self.server._record(envelope)


class SmtpServer:
    """aiosmtpd on 127.0.0.1 at a free port, in its own thread."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = _free_port(host)
        self._lock = threading.Lock()
        self._replies: list[dict[str, Any]] = []
        self._rejected: set[str] = set()
        self._messages: list[Received] = []
        self.attempts = {"RCPT": 0, "DATA": 0}
        self._controller = Controller(_Handler(self), hostname=host, port=self.port)

    def start(self) -> SmtpServer:
        self._controller.start()
        return self

    def stop(self) -> None:
        """Stop (idempotent: a test may stop it early to play an unreachable server)."""
        if self._controller._thread is not None:
            self._controller.stop()

    def __enter__(self) -> SmtpServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def messages(self) -> list[Received]:
        with self._lock:
            return list(self._messages)

    def reply(self, code: int, *, times: int = 1, stage: str = "DATA", text: str = "") -> None:
        """Answer ``code`` at ``stage`` (RCPT or DATA) for the next ``times`` commands."""
        line = f"{code} {text or TEXTS.get(code, 'Error')}"
        with self._lock:
            self._replies.append({"stage": stage.upper(), "line": line, "remaining": times})

    def reject(self, address: str) -> None:
        """Refuse ``address`` at RCPT with 550 from now on."""
        with self._lock:
            self._rejected.add(address.lower())

    def _take(self, stage: str, address: str) -> str | None:
        with self._lock:
            self.attempts[stage] += 1
            if stage == "RCPT" and address.lower() in self._rejected:
                return f"550 {TEXTS[550]}"
            for entry in self._replies:
                if entry["stage"] == stage and entry["remaining"] > 0:
                    entry["remaining"] -= 1
                    return str(entry["line"])
        return None

    def _record(self, envelope: Any) -> str:
        parsed = message_from_bytes(
            envelope.original_content or envelope.content, policy=policy.default
        )
        with self._lock:
            queue_id = f"Q{len(self._messages) + 1:05d}"
            self._messages.append(
                Received(envelope.mail_from, list(envelope.rcpt_tos), parsed, queue_id)
            )
        return f"250 2.0.0 Ok: queued as {queue_id}"


def _free_port(host: str) -> int:
    # aiosmtpd's controller checks readiness by connecting to its port, so it cannot use port 0.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])
