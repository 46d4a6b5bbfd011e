"""Real HTTP servers on 127.0.0.1 that speak Slack, PagerDuty (Events v2, REST v2), webhooks.

Each runs in a thread, records every request it receives (also those it fails), and can be told to
misbehave for the next K requests or until a time (compared with the possibly travelled clock, so
"500 for ten minutes of moved time" works under time_machine):

    with SlackServer() as slack:
        slack.fail(500, times=2)            # 500 twice, then normal answers
        slack.fail(503, until=now + 10min)  # until the (moved) clock passes a time
        slack.rate_limit(retry_after=3)     # 429 with Retry-After: 3
        slack.hang(seconds=5)               # read the request, answer nothing for 5 s, close
        slack.close_connection()            # read the request, close without an answer
        slack.redirect("http://127.0.0.2:9/")

Faults queue up in order; ``heal()`` drops them, ``reset()`` also forgets the recorded requests.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import socket
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qsl, urlsplit

from tests.support.fake_pagerduty_rest import RestApi

Answer = tuple[int, dict[str, str], bytes]


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class RecordedRequest:
    """One request as the server saw it, and what it answered (None: no answer)."""

    method: str
    path: str
    query: str
    headers: dict[str, str]  # lower-cased names
    body: bytes
    at: datetime
    status: int | None = None

    def json(self) -> Any:
        return json.loads(self.body)

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass
class Fault:
    """One way to misbehave: for ``remaining`` more requests, or until ``until``."""

    kind: str  # "status" | "hang" | "close" | "redirect"
    status: int = 500
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    remaining: int | None = 1
    until: datetime | None = None
    seconds: float = 0.0

    def active(self, now: datetime) -> bool:
        if self.until is not None:
            return now < self.until
        return self.remaining is None or self.remaining > 0


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    timeout = 30  # an idle keep-alive connection frees its thread after this
    # Headers and body leave in one segment without Nagle's delay: otherwise every keep-alive
    # request waits ~40 ms for a delayed ACK and throughput measurements are meaningless.
    disable_nagle_algorithm = True
    wbufsize = 64 * 1024

    def log_message(self, format: str, *args: Any) -> None:  # quiet test output
        return

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        request = RecordedRequest(
            method=self.command,
            path=parts.path,
            query=parts.query,
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
            at=_now(),
        )
        self.server.fake._answer(self, request)

    do_GET = do_POST = do_PUT = do_DELETE = _serve


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    fake: FakeServer

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.open_sockets: set[socket.socket] = set()
        self.sockets_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.sockets_lock:
            self.open_sockets.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self.sockets_lock:
            self.open_sockets.discard(request)
        super().shutdown_request(request)

    def drop_connections(self) -> None:
        """A stopped server also ends its keep-alive connections, as a dead process would."""
        with self.sockets_lock:
            sockets, self.open_sockets = list(self.open_sockets), set()
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class FakeServer:
    """The common part: threading, recording, faults. Subclasses implement ``handle``."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._requests: list[RecordedRequest] = []
        self._release = threading.Event()
        self._server = _Server((host, port), _Handler)
        self._server.fake = self
        self._thread: threading.Thread | None = None

    # --- life cycle ----------------------------------------------------------------------------
    def start(self) -> Self:
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._release.set()
        self._server.shutdown()
        self._server.server_close()
        self._server.drop_connections()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def host(self) -> str:
        return str(self._server.server_address[0])

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    # --- what it received ------------------------------------------------------------------------
    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def answered(self, status: int | None = None) -> list[RecordedRequest]:
        """Requests that got an answer (with ``status``, or any 2xx when None)."""
        return [
            r
            for r in self.requests
            if r.status is not None and (r.status == status if status else 200 <= r.status < 300)
        ]

    # --- faults ----------------------------------------------------------------------------------
    def fail(
        self,
        status: int = 500,
        *,
        times: int | None = None,
        until: datetime | None = None,
        for_seconds: float | None = None,
        body: str | bytes = "",
        headers: dict[str, str] | None = None,
    ) -> None:
        """Answer ``status`` to the next ``times`` requests (default 1), or until a time."""
        if for_seconds is not None:
            until = _now() + timedelta(seconds=for_seconds)
        remaining = None if until is not None else (1 if times is None else times)
        payload = body.encode() if isinstance(body, str) else body
        self._add(
            Fault(
                "status",
                status=status,
                body=payload or f"fault {status}".encode(),
                headers=dict(headers or {}),
                remaining=remaining,
                until=until,
            )
        )

    def rate_limit(
        self, retry_after: float = 1, *, times: int | None = None, until: datetime | None = None
    ) -> None:
        """Answer 429 with ``Retry-After``."""
        value = str(int(retry_after)) if float(retry_after).is_integer() else str(retry_after)
        self.fail(
            429, times=times, until=until, headers={"Retry-After": value}, body="rate_limited"
        )

    def hang(self, *, seconds: float = 30.0, times: int = 1) -> None:
        """Read the request, say nothing for ``seconds`` (or until stopped), then hang up."""
        self._add(Fault("hang", remaining=times, seconds=seconds))

    def close_connection(self, *, times: int = 1) -> None:
        """Read the request and close the connection without an answer."""
        self._add(Fault("close", remaining=times))

    def redirect(self, location: str, *, status: int = 307, times: int = 1) -> None:
        self._add(Fault("redirect", status=status, headers={"Location": location}, remaining=times))

    def heal(self) -> None:
        with self._lock:
            self._faults.clear()

    def reset(self) -> None:
        with self._lock:
            self._faults.clear()
            self._requests.clear()

    def _add(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def _take_fault(self) -> Fault | None:
        now = _now()
        with self._lock:
            self._faults = [f for f in self._faults if f.active(now)]
            if not self._faults:
                return None
            fault = self._faults[0]
            if fault.remaining is not None:
                fault.remaining -= 1
            return fault

    # --- answering -------------------------------------------------------------------------------
    def _answer(self, handler: _Handler, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)
        fault = self._take_fault()
        if fault is None:
            status, headers, body = self.handle(request)
        elif fault.kind == "hang":
            self._release.wait(fault.seconds)
            handler.close_connection = True
            return
        elif fault.kind == "close":
            handler.close_connection = True
            return
        else:
            status, headers, body = fault.status, fault.headers, fault.body
        request.status = status
        handler.send_response(status)
        for name, value in {"Content-Length": str(len(body)), **headers}.items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(body)

    def handle(self, request: RecordedRequest) -> Answer:
        raise NotImplementedError


def _json(status: int, document: Any, **headers: str) -> Answer:
    return status, {"Content-Type": "application/json", **headers}, json.dumps(document).encode()


def _text(status: int, text: str) -> Answer:
    return status, {"Content-Type": "text/html"}, text.encode()


class SlackServer(FakeServer):
    """Slack's incoming webhooks (``/services/...``) and Web API ``chat.postMessage``."""

    webhook_path = "/services/T0TEST/B0TEST/abcdefghijklmnopqrstuvwx"

    def __init__(
        self,
        *,
        token: str = "xoxb-test-token",  # noqa: S107
        channels: Any = None,
        **kw: Any,
    ) -> None:
        super().__init__(**kw)
        self.token = token
        self.channels = set(channels or {"alerts", "ops-alerts", "C0ALERTS1"})
        self._ts = 0

    @property
    def webhook_url(self) -> str:
        return self.url + self.webhook_path

    @property
    def api_url(self) -> str:
        return self.url + "/api/"

    @property
    def messages(self) -> list[dict[str, Any]]:
        """Bodies of the messages Slack accepted, in order."""
        return [r.json() if r.body.startswith(b"{") else _form(r.body) for r in self.answered(200)]

    def handle(self, request: RecordedRequest) -> Answer:
        if request.method != "POST":
            return _text(405, "method_not_allowed")
        if request.path.startswith("/services/"):
            return self._webhook(request)
        if request.path == "/api/chat.postMessage":
            return self._post_message(request)
        return _text(404, "not_found")

    def _webhook(self, request: RecordedRequest) -> Answer:
        if request.path != self.webhook_path:
            return _text(404, "no_service")
        try:
            body = request.json()
        except ValueError:
            return _text(400, "invalid_payload")
        if not isinstance(body, dict) or not (body.get("text") or body.get("blocks")):
            return _text(400, "no_text")
        return _text(200, "ok")

    def _post_message(self, request: RecordedRequest) -> Answer:
        auth = request.header("authorization") or ""
        if not auth:
            return _json(200, {"ok": False, "error": "not_authed"})
        if auth != f"Bearer {self.token}":
            return _json(200, {"ok": False, "error": "invalid_auth"})
        body = request.json() if request.body.startswith(b"{") else _form(request.body)
        channel = str(body.get("channel") or "").lstrip("#")
        if channel not in self.channels:
            return _json(200, {"ok": False, "error": "channel_not_found"})
        if not (body.get("text") or body.get("blocks")):
            return _json(200, {"ok": False, "error": "no_text"})
        with self._lock:
            self._ts += 1
            ts = f"1700000000.{self._ts:06d}"
        message = {"type": "message", "text": body.get("text", ""), "ts": ts}
        return _json(200, {"ok": True, "channel": "C0ALERTS1", "ts": ts, "message": message})


def _form(body: bytes) -> dict[str, Any]:
    return dict(parse_qsl(body.decode()))


@dataclass
class Incident:
    """What PagerDuty shows: one per dedup_key until it is resolved."""

    dedup_key: str
    routing_key: str
    summary: str
    severity: str
    status: str = "triggered"  # "triggered" | "acknowledged" | "resolved"
    events: list[dict[str, Any]] = field(default_factory=list)


class PagerDutyServer(RestApi, FakeServer):
    """Events API v2 ``/v2/enqueue`` (folding triggers by dedup_key) and the REST API v2
    (``/incidents``, ``/services/<id>``; see ``fake_pagerduty_rest``)."""

    SEVERITIES = ("critical", "error", "warning", "info")

    def __init__(
        self,
        *,
        routing_keys: Any = None,
        api_key: str = "",
        services: Any = (),
        users: Any = None,
        **kw: Any,
    ) -> None:
        super().__init__(**kw)
        self.routing_keys = set(routing_keys) if routing_keys else None
        self.api_key = api_key
        self.services = set(services)
        self.incidents: list[Incident] = []
        self._setup_rest(users)  # users: the From addresses PagerDuty knows (None: any)

    @property
    def events_url(self) -> str:
        return self.url + "/v2/enqueue"

    @property
    def events(self) -> list[dict[str, Any]]:
        """Events PagerDuty accepted (202), in order."""
        return [r.json() for r in self.answered(202)]

    def open_incidents(self) -> list[Incident]:
        with self._lock:
            return [i for i in self.incidents if i.status != "resolved"]

    def handle(self, request: RecordedRequest) -> Answer:
        if request.method == "POST" and request.path == "/v2/enqueue":
            return self._enqueue(request)
        return self.rest(request) or _json(404, {"error": {"message": "Not Found"}})

    def _enqueue(self, request: RecordedRequest) -> Answer:
        try:
            event = request.json()
        except ValueError:
            return _invalid("Event object is invalid", "Body is not JSON")
        problem = self._problem(event)
        if problem:
            return _invalid("Event object is invalid", problem)
        key = event.get("dedup_key") or uuid.uuid4().hex
        with self._lock:
            self._apply(event, key)
        return _json(202, {"status": "success", "message": "Event processed", "dedup_key": key})

    def _problem(self, event: Any) -> str:
        if not isinstance(event, dict):
            return "Event must be an object"
        key = event.get("routing_key")
        if not isinstance(key, str) or len(key) != 32:
            return "'routing_key' must be 32 characters"
        if self.routing_keys is not None and key not in self.routing_keys:
            return "'routing_key' is not an integration key of this account"
        action = event.get("event_action")
        if action not in ("trigger", "acknowledge", "resolve"):
            return "'event_action' must be trigger, acknowledge or resolve"
        if len(str(event.get("dedup_key") or "")) > 255:
            return "'dedup_key' is longer than 255 characters"
        if action != "trigger":
            return "" if event.get("dedup_key") else "'dedup_key' is required"
        payload = event.get("payload") or {}
        if not payload.get("summary") or len(payload["summary"]) > 1024:
            return "'payload.summary' is required and at most 1024 characters"
        if not payload.get("source"):
            return "'payload.source' is required"
        if payload.get("severity") not in self.SEVERITIES:
            return "'payload.severity' must be critical, error, warning or info"
        return ""

    def _apply(self, event: dict[str, Any], key: str) -> None:
        current = next(
            (i for i in self.incidents if i.dedup_key == key and i.status != "resolved"), None
        )
        action = event["event_action"]
        if action == "trigger":
            if current is None:  # a trigger after a resolve opens a new incident, as PagerDuty does
                payload = event["payload"]
                current = Incident(
                    key, event["routing_key"], payload["summary"], payload["severity"]
                )
                self.incidents.append(current)
            current.events.append(event)
        elif current is not None:  # ack/resolve of an unknown or closed key is accepted, ignored
            current.status = "acknowledged" if action == "acknowledge" else "resolved"
            current.events.append(event)


def _invalid(message: str, error: str) -> Answer:
    return _json(400, {"status": "invalid event", "message": message, "errors": [error]})


class WebhookReceiver(FakeServer):
    """Accepts any POST with 200; with a ``secret`` it checks ``X-Signature-256`` (401 if wrong)."""

    def __init__(self, *, secret: str = "", **kw: Any) -> None:
        super().__init__(**kw)
        self.secret = secret
        self._count = 0

    @property
    def bodies(self) -> list[Any]:
        return [r.json() for r in self.answered(200)]

    def handle(self, request: RecordedRequest) -> Answer:
        if request.method != "POST":
            return _json(405, {"error": "method not allowed"})
        if self.secret:
            expected = (
                "sha256=" + hmac.new(self.secret.encode(), request.body, hashlib.sha256).hexdigest()
            )
            if not hmac.compare_digest(expected, request.header("x-signature-256") or ""):
                return _json(401, {"error": "bad signature"})
        with self._lock:
            self._count += 1
            request_id = f"req-{self._count}"
        return _json(200, {"status": "ok"}, **{"X-Request-Id": request_id})


class HeartbeatServer(FakeServer):
    """A heartbeat check as Healthchecks.io runs one: ``GET /ping/<uuid>`` answers 200 "OK"."""

    check = "0b7c2e5a-4d1f-4c8e-9a51-3f0e6d2b7c11"

    @property
    def ping_url(self) -> str:
        return f"{self.url}/ping/{self.check}"

    @property
    def pings(self) -> list[RecordedRequest]:
        return [r for r in self.answered(200) if r.path == f"/ping/{self.check}"]

    def handle(self, request: RecordedRequest) -> Answer:
        if request.path != f"/ping/{self.check}":
            return _text(404, "not found")
        return 200, {"Content-Type": "text/plain"}, b"OK"
