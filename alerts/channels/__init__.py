"""Notification channels: one module per kind behind the registry in ``base``."""

from __future__ import annotations

from alerts.channels.base import (
    CHANNEL_KIND_CHOICES,
    CHANNEL_KINDS,
    AlertMessage,
    Channel,
    ChannelError,
    Receipt,
    get_channel_class,
)

__all__ = [
    "CHANNEL_KINDS",
    "CHANNEL_KIND_CHOICES",
    "AlertMessage",
    "Channel",
    "ChannelError",
    "Receipt",
    "get_channel_class",
]
