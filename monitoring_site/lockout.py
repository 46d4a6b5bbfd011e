"""Sign-in lockout (django-axes): the message, the 429 answer, and the forms that show it.

A (username, client address) pair is locked after ``LOGIN_FAILURE_LIMIT`` failures for
``LOGIN_LOCKOUT_MINUTES``, on every sign-in path (admin, dashboard, API token). Attempts live in
the database (django-axes' database handler), so a lockout holds while Redis is down.
"""

from __future__ import annotations

from typing import Any

from axes.helpers import get_cool_off
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse

from monitoring_site.api.errors import error_body


def cool_off_seconds(request: Any = None) -> int:
    cool_off = get_cool_off(request)
    return int(cool_off.total_seconds()) if cool_off else 0


def lockout_message(request: Any = None) -> str:
    minutes = max(1, round(cool_off_seconds(request) / 60))
    return (
        "Too many failed sign-ins for this username from your address: sign-in is locked for "
        f"{minutes} minutes after the last attempt. Try again later, or ask an admin to lift "
        "the lockout."
    )


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: Any = None
) -> HttpResponse:
    """``AXES_LOCKOUT_CALLABLE``: the JSON error shape under /api/, else the sign-in page
    (whose form already shows :func:`lockout_message`) with status 429."""
    message = lockout_message(request)
    if request.path.startswith("/api/"):
        response: HttpResponse = JsonResponse(
            error_body(429, message, code="locked_out"), status=429
        )
    elif original_response is not None and "html" in original_response.get("Content-Type", ""):
        response = original_response
        response.status_code = 429
    else:
        response = HttpResponse(message, status=429, content_type="text/plain; charset=utf-8")
    response["Retry-After"] = str(cool_off_seconds(request))
    return response


class LockoutAwareAuthenticationForm(AuthenticationForm):
    """Says "locked" rather than "wrong password" while django-axes refuses the pair."""

    def get_invalid_login_error(self) -> ValidationError:
        if getattr(self.request, "axes_locked_out", False):
            return ValidationError(lockout_message(self.request), code="locked_out")
        return super().get_invalid_login_error()
