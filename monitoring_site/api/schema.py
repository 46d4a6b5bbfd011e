"""OpenAPI post-processing: every operation documents the one JSON error shape it can answer."""

from __future__ import annotations

import re
from typing import Any

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "Every error under /api/ (see docs/api.md).",
    "properties": {
        "status": {"type": "integer", "example": 400},
        "code": {"type": "string", "example": "invalid"},
        "message": {"type": "string", "example": "name: This field is required."},
        "details": {
            "type": "object",
            "additionalProperties": {},
            "description": "Per-field problems for validation errors; context for conflicts.",
        },
    },
    "required": ["status", "code", "message"],
}
_WRITES = {"post", "put", "patch"}
_METHODS = {"get", "post", "put", "patch", "delete"}
# An operation names the error statuses the hook cannot infer (a 409 on a state conflict, a 404
# when a query parameter names nothing) with ``extend_schema(extensions=error_responses(409))``.
ERRORS_EXTENSION = "x-error-responses"
_DESCRIPTIONS = {
    400: "Invalid input; `details` names each field.",
    404: "No such object (or page).",
    409: "The request conflicts with the object's current state; `details` says how.",
}


URI_TOO_LONG = "The URL is longer than the server accepts (gunicorn: 4094 bytes); no JSON body."


def error_responses(*statuses: int) -> dict[str, Any]:
    """For ``extend_schema(extensions=...)``: error statuses this operation answers too."""
    unknown = [status for status in statuses if status not in _DESCRIPTIONS]
    if unknown:
        raise ValueError(f"no description for status {unknown}; add one to _DESCRIPTIONS")
    return {ERRORS_EXTENSION: list(statuses)}


def _error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def _errors_for(path: str, method: str, operation: dict[str, Any]) -> dict[str, str]:
    errors: dict[str, str] = {}
    if method in _WRITES:
        errors["400"] = _DESCRIPTIONS[400]
        errors["413"] = "The body is larger than MAX_REQUEST_BYTES."
    if any(parameter.get("in") == "query" for parameter in operation.get("parameters", [])):
        errors["400"] = "Invalid input (a query parameter or the body); `details` names each."
    for status in operation.pop(ERRORS_EXTENSION, []):
        errors[str(status)] = _DESCRIPTIONS[status]
    if path.startswith("/api/auth/token"):
        errors["401"] = "Wrong credentials, or an expired, invalid or used token."
    if any(requirement for requirement in operation.get("security", [{}])):
        errors["401"] = "Missing, expired or invalid credentials."
        errors["403"] = "The caller lacks the role this needs."
    if re.search(r"\{[^}]+\}", path) or (method == "get" and "page" in str(operation)):
        errors["404"] = _DESCRIPTIONS[404]
    errors["429"] = "Throttled; see Retry-After."
    errors["500"] = "Unexpected error (details are logged, not returned)."
    return errors


def add_error_responses(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """A drf-spectacular postprocessing hook: an ``Error`` component and the statuses each
    operation can answer with it, unless the view documents that status itself."""
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    for path, operations in result.get("paths", {}).items():
        if not path.startswith("/api/"):
            continue
        for method, operation in operations.items():
            if method not in _METHODS:
                continue
            responses = operation.setdefault("responses", {})
            for status, description in _errors_for(path, method, operation).items():
                responses.setdefault(status, _error(description))
            if any(p.get("in") in ("query", "path") for p in operation.get("parameters", [])):
                # gunicorn answers this itself, before Django, with a page of its own.
                responses.setdefault("414", {"description": URI_TOO_LONG})
    return result
