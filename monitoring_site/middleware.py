"""Requests refused at the door, before any view or query sees them."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse

from monitoring_site.api.errors import error_body

logger = logging.getLogger(__name__)


class RejectNulInQueryMiddleware:
    """A NUL character in a query parameter is a 400 naming the parameter.

    No parameter legitimately carries one, and PostgreSQL cannot store or even compare text
    holding one: every filter that passes it on (``?job=``, ``?kind=``, the admin's ``?q=``) would
    answer 500. Found by the API fuzzer (bin/fuzz-api).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        for name, values in request.GET.lists():
            if "\x00" in name or any("\x00" in value for value in values):
                return _refuse(request, name.replace("\x00", "\\0")[:64])
        return self.get_response(request)


def _refuse(request: HttpRequest, name: str) -> HttpResponse:
    message = "NUL characters are not allowed."
    logger.info("query parameter with a NUL refused", extra={"path": request.path})
    if request.path == "/api" or request.path.startswith("/api/"):
        body = error_body(400, f"{name}: {message}", details={name: [message]})
        return JsonResponse(body, status=400)
    return HttpResponseBadRequest(f"{name}: {message}", content_type="text/plain")
