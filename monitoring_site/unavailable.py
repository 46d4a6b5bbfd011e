"""A database that does not answer is a 503 with ``Retry-After``, not a 500.

A client cannot tell a 500 from a bug; a 503 with ``Retry-After`` says "try again then", and an
ingest client that does loses nothing, since a batch is stored all or nothing. Three doors lead
here, so every path answers the same: the middleware (exceptions from views), the API's
exception handler (DRF catches its views' exceptions first) and ``handler500`` (exceptions from
middleware, such as a session save). The outage is logged once when it starts and once when it
ends, and every such answer is counted (``monitoring_unavailable_responses_total``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from django.conf import settings
from django.db.utils import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from prometheus_client import Counter

from monitoring_site.api.errors import error_body

logger = logging.getLogger(__name__)

MESSAGE = "The database is unavailable; retry after the time given in Retry-After."
UNAVAILABLE = Counter(
    "monitoring_unavailable_responses",
    "503 answers given because the database did not answer (this host's processes).",
    ["dependency"],
)


def database_down(exc: BaseException | None) -> bool:
    """``exc`` (or what caused it) says the database is unreachable or the connection broke."""
    for _ in range(5):
        if exc is None:
            return False
        if isinstance(exc, OperationalError | InterfaceError):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def retry_after() -> str:
    return str(settings.UNAVAILABLE_RETRY_AFTER_SECONDS)


def unavailable_response(request: HttpRequest) -> HttpResponse:
    """503 with Retry-After: the API's JSON error shape under /api/, plain text elsewhere."""
    response: HttpResponse
    if request.path == "/api" or request.path.startswith("/api/"):
        response = JsonResponse(error_body(503, MESSAGE), status=503)
    else:
        response = HttpResponse(f"{MESSAGE}\n", status=503, content_type="text/plain")
    response["Retry-After"] = retry_after()
    # An answer, not a server error: the outage was logged once (OUTAGE), not once per request.
    response._has_been_logged = True  # type: ignore[attr-defined]
    return response


class _Outage:
    """When this process first met the database down; logged at the start and the end only."""

    def __init__(self) -> None:
        self.since: float | None = None
        self._lock = threading.Lock()

    def failed(self, exc: BaseException, request: HttpRequest) -> None:
        UNAVAILABLE.labels("database").inc()
        with self._lock:
            starting, self.since = self.since is None, self.since or time.monotonic()
        if starting:
            logger.error(
                "database unavailable: answering 503 (logged once until it recovers): %s",
                type(exc).__name__,
                extra={"path": request.path},
            )

    def answered(self) -> None:
        if self.since is None:
            return
        with self._lock:
            since, self.since = self.since, None
        if since is not None:
            logger.warning("database available again after %.0f s", time.monotonic() - since)


OUTAGE = _Outage()


def answer_database_down(request: HttpRequest, exc: BaseException) -> HttpResponse:
    OUTAGE.failed(exc, request)
    return unavailable_response(request)


class DatabaseUnavailableMiddleware:
    """A view that met the database down answers 503 with Retry-After."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if response.status_code < 500:
            OUTAGE.answered()
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if database_down(exception):
            return answer_database_down(request, exception)
        return None
