"""The demo's local notification receivers: SMTP, Slack webhooks, PagerDuty Events v2, webhooks.

Each listens on 127.0.0.1, answers as the real service does on success, and records what it
accepted in the demo inbox (:mod:`demo.inbox`). They do not check credentials or inject faults:
the test suite's vendor servers (tests/support) do that; these exist to show where alerts go.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

from demo.inbox import Delivery, record
from demo.platform import PortInUse, bind

SLACK_PATH = "/services/TDEMO0000/BDEMO0000/demo"
PAGERDUTY_PATH = "/v2/enqueue"
WEBHOOK_PATH = "/alerts"


@dataclass(frozen=True)
class ReceiverPorts:
    smtp: int
    slack: int
    pagerduty: int
    webhook: int

    @classmethod
    def from_base(cls, base: int) -> ReceiverPorts:
        return cls(smtp=base, slack=base + 1, pagerduty=base + 2, webhook=base + 3)

    @property
    def slack_url(self) -> str:
        return f"http://127.0.0.1:{self.slack}{SLACK_PATH}"

    @property
    def pagerduty_url(self) -> str:
        return f"http://127.0.0.1:{self.pagerduty}{PAGERDUTY_PATH}"

    @property
    def webhook_url(self) -> str:
        return f"http://127.0.0.1:{self.webhook}{WEBHOOK_PATH}"


def slack_delivery(body: dict[str, Any]) -> Delivery:
    text = str(body.get("text") or "")
    blocks = body.get("blocks") or []
    lines = [
        str(block.get("text", {}).get("text", ""))
        for block in blocks
        if isinstance(block, dict) and isinstance(block.get("text"), dict)
    ]
    title = text.splitlines()[0] if text else ""
    return Delivery("slack", "#alerts", title, "\n".join(lines) or text)


def pagerduty_delivery(body: dict[str, Any]) -> Delivery:
    # The routing key is a credential: it is not recorded.
    raw = body.get("payload")
    payload: dict[str, Any] = raw if isinstance(raw, dict) else {}
    action = str(body.get("event_action", ""))
    summary = str(payload.get("summary", ""))
    text = f"{action} dedup_key={body.get('dedup_key', '')} severity={payload.get('severity', '')}"
    return Delivery("pagerduty", "PagerDuty service", f"{action}: {summary}".strip(": "), text)


def webhook_delivery(body: dict[str, Any]) -> Delivery:
    listed = body.get("alerts")
    alerts: list[Any] = listed if isinstance(listed, list) else []
    names = [
        f"{a.get('status', '')}: {a.get('annotations', {}).get('summary', '')}"
        for a in alerts
        if isinstance(a, dict) and isinstance(a.get("annotations"), dict)
    ]
    title = names[0] if names else str(body.get("status", ""))
    return Delivery("webhook", "status page webhook", title, json.dumps(body)[:2000])


class _Handler(BaseHTTPRequestHandler):
    server: _HttpReceiver
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if self.path.split("?")[0] != self.server.path:
            self._send(404, b"not found", "text/plain")
            return
        try:
            body = json.loads(raw)
        except ValueError:
            self._send(400, b"invalid_payload", "text/plain")
            return
        if not isinstance(body, dict):
            self._send(400, b"invalid_payload", "text/plain")
            return
        record(self.server.inbox, self.server.parse(body))
        status, answer, kind = self.server.answer
        self._send(status, answer, kind)

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _HttpReceiver(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(
        self, address: tuple[str, int], inbox: Path, path: str, parse: Any, answer: Any
    ) -> None:
        super().__init__(address, _Handler)
        self.inbox, self.path, self.parse, self.answer = inbox, path, parse, answer


_PD_OK = json.dumps({"status": "success", "message": "Event processed"}).encode()
HTTP_RECEIVERS = (
    ("slack", SLACK_PATH, slack_delivery, (200, b"ok", "text/html")),
    ("pagerduty", PAGERDUTY_PATH, pagerduty_delivery, (202, _PD_OK, "application/json")),
    ("webhook", WEBHOOK_PATH, webhook_delivery, (200, b'{"status":"ok"}', "application/json")),
)


class _SmtpHandler:
    def __init__(self, inbox: Path) -> None:
        self.inbox = inbox

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = message_from_bytes(
            envelope.original_content or envelope.content, policy=policy.default
        )
        part = message.get_body(preferencelist=("plain", "html"))
        text = str(part.get_content()) if part is not None else ""
        to = ", ".join(envelope.rcpt_tos)
        record(self.inbox, Delivery("email", to, str(message.get("Subject", "")), text))
        return "250 2.0.0 Ok: queued"


class Receivers:
    """All four receivers, started together; :class:`PortInUse` names a taken port."""

    def __init__(self, *, ports: ReceiverPorts, inbox: Path) -> None:
        self.ports = ports
        self.inbox = inbox
        self.http: list[_HttpReceiver] = []
        self.smtp: Controller | None = None
        self.serving = False

    def start(self) -> Receivers:
        try:
            for name, path, parse, answer in HTTP_RECEIVERS:
                port = getattr(self.ports, name)
                server = bind(
                    _HttpReceiver, port, f"demo {name} receiver", self.inbox, path, parse, answer
                )
                self.http.append(server)
            bind(
                ThreadingHTTPServer, self.ports.smtp, "demo SMTP server", BaseHTTPRequestHandler
            ).server_close()
        except PortInUse:
            self.stop()
            raise
        for server in self.http:
            threading.Thread(target=server.serve_forever, args=(0.2,), daemon=True).start()
        self.serving = True
        self.smtp = Controller(_SmtpHandler(self.inbox), hostname="127.0.0.1", port=self.ports.smtp)
        self.smtp.start()
        return self

    def stop(self) -> None:
        for server in self.http:
            if self.serving:  # shutdown() waits for a serve_forever loop that must have started
                server.shutdown()
            server.server_close()
        self.http.clear()
        self.serving = False
        if self.smtp is not None:
            self.smtp.stop()
            self.smtp = None


__all__ = ["PortInUse", "ReceiverPorts", "Receivers"]
