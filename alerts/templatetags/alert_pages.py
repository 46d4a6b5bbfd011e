"""How numbers and labels read on the alert pages."""

from __future__ import annotations

from typing import Any

from django import template

from monitoring_site.humanize import format_number

register = template.Library()


@register.filter
def number(value: float | None) -> str:
    """12.5, 1000, "no data" (the same format as the alert messages)."""
    return format_number(value)


@register.filter
def label_text(labels: dict[str, Any] | None) -> str:
    """``service="payment", route="/pay"``."""
    return ", ".join(f'{k}="{v}"' for k, v in sorted((labels or {}).items()))
