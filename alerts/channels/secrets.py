"""Which parts of a channel's configuration are secrets, and how they are shown: masked.

A secret (Slack webhook URL or bot token, PagerDuty routing key, webhook signing secret) is never
shown back: pages and the edit history show ``••••`` and, for a long secret, its last four
characters, so people can tell which one is in use and see in the history when it changed.
"""

from __future__ import annotations

from typing import Any

from alerts.channels.base import CHANNEL_KINDS, get_channel_class

MASK = "••••"
# Shorter secrets show nothing of themselves; from this length on, the last four characters.
HINT_FROM_LENGTH = 16


def secret_keys(kind: str) -> tuple[str, ...]:
    """The config keys of ``kind`` that are secrets (none for an unknown kind)."""
    if kind not in CHANNEL_KINDS:
        return ()
    return get_channel_class(kind).secret_fields


def all_secret_keys() -> list[tuple[str, str]]:
    """Every (kind, key) pair that is a secret, in a stable order."""
    return [(kind, key) for kind in CHANNEL_KINDS for key in secret_keys(kind)]


def mask(value: Any) -> str:
    """``••••`` plus, for a long secret, its last four characters; a masked value stays as is."""
    text = str(value)
    if text.startswith(MASK):
        return text
    if len(text) >= HINT_FROM_LENGTH:
        return MASK + text[-4:]
    return MASK


def _any_kind_secrets() -> set[str]:
    # A key that is a secret for one kind is masked whatever the row's kind says.
    return {key for _kind, key in all_secret_keys()}


def masked_config(config: Any) -> Any:
    """``config`` with every secret masked (what pages and the edit history hold)."""
    if not isinstance(config, dict):
        return config
    secret = _any_kind_secrets()
    return {key: mask(value) if key in secret and value else value for key, value in config.items()}


def public_config(config: Any) -> dict[str, Any]:
    """``config`` without its secrets (what the admin's settings field shows and edits)."""
    if not isinstance(config, dict):
        return {}
    secret = _any_kind_secrets()
    return {key: value for key, value in config.items() if key not in secret}
