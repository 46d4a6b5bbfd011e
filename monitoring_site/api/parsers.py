"""JSON request bodies, parsed once for every endpoint: strict, and at most 64 levels deep.

Python's ``json`` recurses: about 1,000 levels of ``[`` raise ``RecursionError`` (not the
``ValueError`` DRF's parser catches), and a few hundred levels pass the parser only to exhaust
the stack later (serializers, error rendering, the database's JSON encoder). No request of this
API needs more than a handful of levels.
"""

from __future__ import annotations

import codecs
from typing import Any

from django.conf import settings
from rest_framework import exceptions, parsers
from rest_framework.utils import json

MAX_JSON_DEPTH = 64


class MalformedBody(exceptions.ParseError):
    """400: the body is not JSON this API accepts (``details.body`` says why)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.details = {"body": [message]}


def loads_json(text: str | bytes, *, strict: bool = True) -> Any:
    """The parsed body; :class:`MalformedBody` when it is not JSON or nests too deeply.

    ``strict`` refuses NaN and Infinity (JSON has neither); without it they are read as floats,
    for a caller that reports them against the field that holds them.
    """
    try:
        decoded = text if isinstance(text, str) else text.decode("utf-8")
        data = json.loads(decoded) if strict else json.loads(decoded, parse_constant=float)
    except RecursionError:
        data = None
        deep = True
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedBody(f"Malformed JSON: {exc}") from None
    else:
        deep = _may_be_deep(text) and _depth_exceeds(data, MAX_JSON_DEPTH)
    if deep:
        raise MalformedBody(f"JSON nested deeper than {MAX_JSON_DEPTH} levels.")
    return data


def _may_be_deep(text: str | bytes) -> bool:
    """False when there are too few brackets to nest past the limit (a C-speed count)."""
    if isinstance(text, bytes):
        return text.count(b"[") + text.count(b"{") > MAX_JSON_DEPTH
    return text.count("[") + text.count("{") > MAX_JSON_DEPTH


def _depth_exceeds(data: Any, limit: int) -> bool:
    """Whether arrays and objects nest more than ``limit`` levels (iterative: no recursion)."""
    if not isinstance(data, dict | list):
        return False
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        for child in node.values() if isinstance(node, dict) else node:
            if isinstance(child, dict | list):
                stack.append((child, depth + 1))
    return False


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser with a nesting limit and a 400 (never a 500) for any malformed body."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        encoding = (parser_context or {}).get("encoding") or settings.DEFAULT_CHARSET
        try:
            text = codecs.getreader(encoding)(stream).read()
        except (UnicodeDecodeError, LookupError) as exc:
            raise MalformedBody(f"The body is not {encoding} text: {exc}") from None
        return loads_json(text)
