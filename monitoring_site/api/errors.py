"""One JSON error shape for everything under /api/: status, code, message, details.

``{"status": 400, "code": "invalid", "message": "...", "details": {"field": ["..."]}}``
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.http import Http404, HttpRequest, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

logger = logging.getLogger(__name__)

_CODES = {
    400: "invalid",
    401: "not_authenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    411: "length_required",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "throttled",
    500: "server_error",
    503: "unavailable",
}


class Conflict(exceptions.APIException):
    """The request is valid but conflicts with the current state of the object."""

    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the current state."
    default_code = "conflict"

    def __init__(self, detail: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(detail)
        self.details = details or {}


class Unavailable(exceptions.APIException):
    """A system this request needs (the metrics backend) is down or answered an error: 503."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "A system this request needs is unavailable."
    default_code = "unavailable"

    def __init__(self, detail: str, *, code: str = "unavailable") -> None:
        super().__init__(detail, code=code)


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "payload_too_large"


class CodedValidationError(exceptions.ValidationError):
    """A 400 with a specific machine code (e.g. ``series_limit``) and per-field details."""

    def __init__(self, message: str, *, code: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(details or {}, code=code)
        self.message = message
        self.machine_code = code
        self.details = details or {}  # as given: numbers stay numbers (``detail`` holds text)


def error_body(
    status_code: int, message: str, *, code: str | None = None, details: Any = None
) -> dict:
    body: dict[str, Any] = {
        "status": status_code,
        "code": code or _CODES.get(status_code, "error"),
        "message": message,
    }
    if details:
        body["details"] = details
    return body


def _message_of(detail: Any) -> str:
    if isinstance(detail, list) and detail:
        return _message_of(detail[0])
    if isinstance(detail, dict):
        return "Invalid input."
    return str(detail)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, RequestDataTooBig):
        exc = PayloadTooLarge(
            f"The request body is larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes."
        )
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    # DRF answers exactly the APIExceptions (Http404 and PermissionDenied were converted above).
    if response is None or not isinstance(exc, exceptions.APIException):
        logger.exception("unhandled API error", extra={"path": context["request"].path})
        return Response(error_body(500, "Internal server error."), status=500)
    code = None
    if isinstance(exc, CodedValidationError):
        message, code, details = exc.message, exc.machine_code, exc.details
    elif isinstance(exc, exceptions.ValidationError):
        details = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        message = _validation_message(details)
    elif isinstance(exc.detail, dict) and "detail" in exc.detail:
        # simplejwt's shape: {"detail": ..., "code": ..., "messages": [{"message": ...}]}.
        details = None
        message = _token_message(exc.detail)
        code = str(exc.detail.get("code") or _exception_code(exc, response.status_code))
    else:
        details = getattr(exc, "details", None)
        message = _message_of(exc.detail)
        code = _exception_code(exc, response.status_code)
    response.data = error_body(response.status_code, message, code=code, details=details)
    return response


def _token_message(detail: dict[str, Any]) -> str:
    """The most specific reason (``Token is expired``) rather than the generic headline."""
    for item in detail.get("messages") or []:
        if isinstance(item, dict) and item.get("message"):
            return str(item["message"])
    return str(detail["detail"])


def _exception_code(exc: Exception, status_code: int) -> str:
    if isinstance(exc, exceptions.APIException):
        codes = exc.get_codes()
        if isinstance(codes, str) and codes not in ("error", "invalid"):
            return codes
    return _CODES.get(status_code, "error")


def _validation_message(details: dict[str, Any]) -> str:
    """The first problem, prefixed by where it is: ``samples.3.value: A valid number...``."""
    found = _first_problem(details, ())
    if found is None:
        return "Invalid input."
    path, message = found
    where = ".".join(part for part in path if part not in ("non_field_errors", "detail"))
    return f"{where}: {message}" if where else message


def _first_problem(detail: Any, path: tuple[str, ...]) -> tuple[tuple[str, ...], str] | None:
    if isinstance(detail, dict):
        items = [(str(key), value) for key, value in detail.items()]
    elif isinstance(detail, list):
        # A list of strings is one field's problems; a list of dicts, one entry per list item.
        if detail and not isinstance(detail[0], dict | list):
            return path, str(detail[0])
        items = [(str(index), value) for index, value in enumerate(detail)]
    else:
        return path, str(detail)
    for key, value in items:
        found = _first_problem(value, (*path, key))
        if found is not None:
            return found
    return None


def json_error(request: HttpRequest, status_code: int, message: str) -> JsonResponse:
    return JsonResponse(error_body(status_code, message), status=status_code)
