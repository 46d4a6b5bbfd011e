"""Real HTTP servers on 127.0.0.1 that behave like healthy, failing and broken services."""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class PlatformServer(ThreadingHTTPServer):
    """Paths map to behaviours; tests switch a path's behaviour while the server runs."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128  # the default backlog of 5 drops concurrent connects

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.behaviours: dict[str, str] = {}
        self.stopping = threading.Event()
        self.requests: list[tuple[str, str, bytes]] = []
        self.solana: dict[str, Any] = {"health": "ok", "slot": 123_456_789}
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def url(self, path: str, behaviour: str | None = None) -> str:
        if behaviour is not None:
            self.behaviours[path] = behaviour
        return f"{self.base}{path}"

    def start(self) -> PlatformServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self.shutdown()
        self.server_close()


class _Handler(BaseHTTPRequestHandler):
    server: PlatformServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self.server.requests.append(("GET", self.path, b""))
        behaviour = self.server.behaviours.get(self.path.split("?")[0], "missing")
        getattr(self, f"_{behaviour}")()

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length)
        self.server.requests.append(("POST", self.path, body))
        behaviour = self.server.behaviours.get(self.path, "missing")
        if behaviour == "solana":
            self._solana(json.loads(body))
        else:
            getattr(self, f"_{behaviour}")()

    def _send(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _missing(self) -> None:
        self._send(404, b'{"error": "not found"}')

    def _ok(self) -> None:
        self._send(200, b'{"status": "ok", "uptime": 12}')

    def _plain(self) -> None:
        self._send(200, b"OK", "text/plain")

    def _slow(self) -> None:
        time.sleep(0.05)
        self._ok()

    def _degraded(self) -> None:
        self._send(200, b'{"status": "degraded", "reason": "replica lag"}')

    def _unhealthy_json(self) -> None:
        self._send(200, b'{"status": "unhealthy"}')

    def _fail(self) -> None:
        self._send(500, b'{"status": "error", "message": "database unreachable"}')

    def _not_json(self) -> None:
        self._send(200, b"<html>this is not json</html>", "application/json")

    def _binary(self) -> None:
        self._send(200, bytes(range(256)) * 4, "application/octet-stream")

    def _hang(self) -> None:
        # Read nothing more, answer nothing; give up when the client goes or the test ends.
        self.close_connection = True
        self.connection.settimeout(0.2)
        while not self.server.stopping.is_set():
            try:
                if self.connection.recv(1) == b"":
                    return
            except TimeoutError:
                continue
            except OSError:
                return

    def _drip(self) -> None:
        self.close_connection = True
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "1000")
        self.end_headers()
        try:
            while not self.server.stopping.is_set():
                self.wfile.write(b" ")
                self.wfile.flush()
                time.sleep(0.4)
        except OSError:
            return

    def _huge(self) -> None:
        # An endless body without a length: the probe must stop reading, not run out of memory.
        self.close_connection = True
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        chunk = b"x" * 65_536
        try:
            for _ in range(2000):  # 128 MiB at most, should the probe not stop
                if self.server.stopping.is_set():
                    return
                self.wfile.write(chunk)
        except OSError:
            return

    def _huge_declared(self) -> None:
        self.close_connection = True
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(50 * 1024 * 1024))
        self.end_headers()

    def _odd_length(self) -> None:
        # A superscript digit passes str.isdigit() but not int(): a parser must not trust it.
        self.close_connection = True
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "\u00b9")
        self.end_headers()
        self.wfile.write(b"{}")

    def _redirect_loop(self) -> None:
        self.send_response(302)
        self.send_header("Location", self.path)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _redirect_metadata(self) -> None:
        self.send_response(302)
        self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _garbage(self) -> None:
        self.close_connection = True
        self.wfile.write(b"\x00\x13garbage that is not HTTP at all\r\n\r\n")

    def _solana(self, request: dict[str, Any]) -> None:
        state = self.server.solana
        if request.get("method") == "getHealth":
            if state["health"] == "ok":
                answer: dict[str, Any] = {"result": "ok"}
            elif state["health"] == "behind":
                answer = {
                    "error": {
                        "code": -32005,
                        "message": "Node is behind by 42 slots",
                        "data": {"numSlotsBehind": 42},
                    }
                }
            else:
                answer = {"error": {"code": -32603, "message": "Internal error"}}
        elif request.get("method") == "getSlot":
            answer = {"result": state["slot"]}
        else:
            answer = {"error": {"code": -32601, "message": "Method not found"}}
        body = json.dumps({"jsonrpc": "2.0", "id": request.get("id"), **answer}).encode()
        self._send(200, body)


def free_port() -> int:
    """A port on 127.0.0.1 where nothing listens (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
