"""Site-wide views: liveness (/status) and JSON error pages for /api/."""

from __future__ import annotations

import logging
import sys
from datetime import UTC

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views import csrf
from django.views.decorators.cache import never_cache
from django.views.defaults import bad_request, page_not_found, server_error

from monitoring_site.api.errors import json_error
from monitoring_site.unavailable import answer_database_down, database_down

logger = logging.getLogger(__name__)


@never_cache
def status_view(request: HttpRequest) -> JsonResponse:
    """200 when the database answers, 503 otherwise; cheap enough for a load balancer."""
    now = timezone.now().astimezone(UTC).isoformat().replace("+00:00", "Z")
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:
        logger.warning("status: database unreachable: %s", type(exc).__name__)
        return JsonResponse(
            {"status": "error", "timestamp": now, "error": "database unreachable"}, status=503
        )
    return JsonResponse({"status": "ok", "timestamp": now})


def _is_api(request: HttpRequest) -> bool:
    return request.path == "/api" or request.path.startswith("/api/")


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """CSRF_FAILURE_VIEW: the JSON shape under /api/, Django's page elsewhere."""
    if _is_api(request):
        return json_error(request, 403, f"CSRF Failed: {reason}" if reason else "CSRF Failed.")
    return csrf.csrf_failure(request, reason=reason)


def handler404(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _is_api(request):
        return json_error(request, 404, "Not found.")
    return page_not_found(request, exception)


def handler500(request: HttpRequest) -> HttpResponse:
    # Called inside Django's except block: an exception raised by a middleware (a session
    # save, a lockout check) that met the database down is a 503 too.
    failure = sys.exc_info()[1]
    if database_down(failure):
        assert failure is not None
        return answer_database_down(request, failure)
    if _is_api(request):
        return json_error(request, 500, "Internal server error.")
    return server_error(request)


def handler400(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if isinstance(exception, RequestDataTooBig):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        return json_error(request, 413, f"The request body is larger than {limit} bytes.")
    if _is_api(request):
        return json_error(request, 400, "Bad request.")
    return bad_request(request, exception or SuspiciousOperation())


def handler403(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _is_api(request):
        return json_error(request, 403, "Forbidden.")
    return HttpResponse("Forbidden", status=403, content_type="text/plain")
