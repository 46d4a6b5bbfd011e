"""A live Django server that a test can stop and start again on the same port.

pytest-django's ``live_server`` runs for the whole test; the wall screen's reconnection needs the
server to go away under an open page (its port closed, its open connections dropped, as when the
process dies or restarts) and to come back at the same address. Like ``live_server`` it serves
the test database from a thread (an in-memory SQLite database is shared with it).
"""

from __future__ import annotations

import socket
import threading
from typing import Any

from django.contrib.staticfiles.handlers import StaticFilesHandler
from django.core.servers.basehttp import ThreadedWSGIServer
from django.db import connections
from django.test.testcases import LiveServerThread, QuietWSGIRequestHandler


class _DroppingServer(ThreadedWSGIServer):
    """Keeps the sockets it accepted, so that stopping can drop keep-alive connections too."""

    allow_reuse_address = True  # the port comes back while closed connections sit in TIME_WAIT

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.open_sockets: set[socket.socket] = set()
        self.handlers: set[threading.Thread] = set()
        self.lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.lock:
            self.open_sockets.add(request)
        super().process_request(request, client_address)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        with self.lock:
            self.handlers.add(threading.current_thread())
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self.lock:
                self.handlers.discard(threading.current_thread())

    def wait_for_handlers(self, timeout: float) -> None:
        """Until every request thread has ended (they share the test's database connection)."""
        with self.lock:
            handlers = set(self.handlers)
        for handler in handlers:
            handler.join(timeout)

    def drop_connections(self) -> None:
        with self.lock:
            sockets, self.open_sockets = set(self.open_sockets), set()
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already closed by its handler


class _Thread(LiveServerThread):
    server_class = _DroppingServer

    def _create_server(self, connections_override: Any = None) -> Any:
        return self.server_class(
            (self.host, self.port),
            QuietWSGIRequestHandler,
            connections_override=connections_override,
        )


class RestartableLiveServer:
    """``start()``, ``stop()``, ``start()`` again: the same ``url`` each time."""

    host = "127.0.0.1"

    def __init__(self) -> None:
        self.port = 0
        self.thread: _Thread | None = None
        self.shared = {
            conn.alias: conn
            for conn in connections.all()
            if conn.vendor == "sqlite" and conn.is_in_memory_db()  # type: ignore[attr-defined]
        }

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> None:
        for conn in self.shared.values():
            conn.inc_thread_sharing()
        thread = _Thread(self.host, StaticFilesHandler, self.shared, port=self.port)
        thread.daemon = True
        thread.start()
        thread.is_ready.wait()
        if thread.error:
            raise thread.error
        self.port, self.thread = thread.port, thread

    def stop(self) -> None:
        """Close the port and drop every open connection (what a dying process does)."""
        if self.thread is None:
            return
        thread, self.thread = self.thread, None
        httpd: _DroppingServer = thread.httpd  # type: ignore[assignment]
        httpd.shutdown()
        httpd.drop_connections()
        httpd.server_close()
        httpd.wait_for_handlers(timeout=10)
        thread.join(timeout=10)
        for conn in self.shared.values():
            conn.dec_thread_sharing()
