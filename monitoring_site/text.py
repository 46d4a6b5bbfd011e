"""Text a database can store: no NUL (PostgreSQL refuses it) and no lone surrogate (not UTF-8)."""

from __future__ import annotations


def unstorable_text(text: str) -> str | None:
    """Why ``text`` cannot be stored as it is (``"must not contain ..."``), or None."""
    if "\x00" in text:
        return "must not contain a NUL character"
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return "must not contain a lone surrogate (not valid Unicode)"
    return None
