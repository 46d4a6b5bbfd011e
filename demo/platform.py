"""Simulated platform services: one small HTTP server per service on 127.0.0.1.

Each answers ``GET /health`` as the platform's services do (``{"status": "ok", ...}``), or as the
scenario's incidents make it: down (503), unhealthy because a dependency is down (503 naming it),
or slow (an answer after a delay, reporting itself degraded).
"""

from __future__ import annotations

import errno
import json
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from demo.scenario import SIMULATED, Incident
from health.platform import PLATFORM_SERVICES


class PortInUse(Exception):
    """A port the simulator needs is taken; the message names it."""

    def __init__(self, port: int, what: str) -> None:
        super().__init__(f"port {port} ({what}) is already in use on 127.0.0.1")
        self.port = port


def bind(server_class: Callable[..., Any], port: int, what: str, *args: Any) -> Any:
    """``server_class(("127.0.0.1", port), *args)``, or :class:`PortInUse` naming the port."""
    try:
        return server_class(("127.0.0.1", port), *args)
    except OSError as exc:
        if exc.errno in (errno.EADDRINUSE, errno.EACCES):
            raise PortInUse(port, what) from None
        raise


def dependents_of(root: str) -> set[str]:
    """Every service that depends on ``root``, directly or through others."""
    found: set[str] = set()
    frontier = {root}
    while frontier:
        frontier = {
            spec.slug
            for spec in PLATFORM_SERVICES
            if set(spec.depends_on) & frontier and spec.slug not in found
        }
        found |= frontier
    return found


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, Any]
    delay: float = 0.0


def health_answer(slug: str, incidents: Iterable[Incident], offset: float) -> Answer:
    """What ``slug``'s ``/health`` answers ``offset`` seconds after the start."""
    delay, slow = 0.0, False
    for incident in incidents:
        if not incident.active(offset):
            continue
        target = incident.params.get("service")
        if incident.kind in ("service_down", "dependency_outage") and target == slug:
            return Answer(503, {"status": "error", "service": slug, "error": "unavailable"})
        if incident.kind == "dependency_outage" and slug in dependents_of(str(target)):
            return Answer(
                503, {"status": "unhealthy", "service": slug, "dependencies": {target: "down"}}
            )
        if incident.kind == "service_slow" and target == slug:
            delay, slow = max(delay, float(incident.params["latency"])), True
    if slow:
        return Answer(200, {"status": "degraded", "service": slug, "reason": "slow"}, delay)
    return Answer(200, {"status": "ok", "service": slug})


class _Handler(BaseHTTPRequestHandler):
    server: ServiceServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        if self.path.split("?")[0] != "/health":
            self._send(404, {"error": "not found"})
            return
        answer = self.server.answer()
        if answer.delay:
            time.sleep(answer.delay)
        self._send(answer.status, {**answer.body, "uptime": self.server.uptime()})

    def _send(self, status: int, document: dict[str, Any]) -> None:
        body = json.dumps(document).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class ServiceServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, address: tuple[str, int], slug: str, answer: Callable[[], Answer]) -> None:
        super().__init__(address, _Handler)
        self.slug = slug
        self.answer = answer
        self.started = time.monotonic()

    def uptime(self) -> int:
        return int(time.monotonic() - self.started)


class SimulatedPlatform:
    """The simulated services on ``base_port + (default port - 3000)`` each."""

    def __init__(self, *, base_port: int, incidents: Iterable[Incident], started: float) -> None:
        self.incidents = tuple(incidents)
        self.started = started  # time.time() of the simulator's start (offset 0)
        self.servers: dict[str, ServiceServer] = {}
        self.ports = {slug: base_port + offset for slug, offset in default_offsets().items()}
        self.threads: list[threading.Thread] = []

    def start(self) -> SimulatedPlatform:
        try:
            for slug, port in self.ports.items():
                self.servers[slug] = bind(
                    ServiceServer, port, f"simulated {slug} service", slug, self._answer_of(slug)
                )
        except PortInUse:
            self.stop()
            raise
        for server in self.servers.values():
            thread = threading.Thread(target=server.serve_forever, args=(0.2,), daemon=True)
            thread.start()
            self.threads.append(thread)
        return self

    def _answer_of(self, slug: str) -> Callable[[], Answer]:
        return lambda: health_answer(slug, self.incidents, time.time() - self.started)

    def url(self, slug: str) -> str:
        return f"http://127.0.0.1:{self.ports[slug]}"

    def stop(self) -> None:
        for server in self.servers.values():
            if self.threads:
                server.shutdown()
            server.server_close()
        self.servers.clear()


def default_offsets() -> dict[str, int]:
    """Each simulated service's port offset: its default port less 3000 (auth 0 ... 20)."""
    out = {}
    for spec in PLATFORM_SERVICES:
        if spec.slug in SIMULATED:
            out[spec.slug] = int(spec.default_url.rsplit(":", 1)[1]) - 3000
    return out
