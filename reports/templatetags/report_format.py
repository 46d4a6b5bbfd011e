"""How the report's figures read on the page and in the e-mail (one set of filters for both)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from django import template

from monitoring_site.humanize import EMPTY, duration_text

register = template.Library()


@register.filter
def percent(value: float | None, places: int = 2) -> str:
    """0.99953 -> ``99.95%``; no data -> ``-``."""
    return EMPTY if value is None else f"{100 * value:.{places}f}%"


@register.filter
def seconds(value: float | None) -> str:
    return duration_text(seconds=value)


@register.filter
def milliseconds(value: float | None) -> str:
    return duration_text(milliseconds=value)


@register.filter
def money(cents: float | None) -> str:
    """Cents as an amount: 123456 -> ``1,234.56``."""
    return EMPTY if cents is None else f"{cents / 100:,.2f}"


@register.filter
def count(value: float | None) -> str:
    return EMPTY if value is None else f"{value:,}"


@register.filter
def figure(value: float | None, name: str) -> str:
    """A business figure by its name: rates as percentages, revenue as money, counts plainly."""
    if name.endswith("_rate"):
        return percent(value)
    if name == "revenue_cents":
        return money(value)
    return count(value)


@register.filter
def change(value: dict[str, Any] | None, name: str) -> str:
    """``+12 (+9.1%)``; for rates the difference in percentage points; ``-`` without a base."""
    if value is None:
        return EMPTY
    difference = value["difference"]
    if name.endswith("_rate"):
        return f"{100 * difference:+.2f} pt"
    shown = f"{difference / 100:+,.2f}" if name == "revenue_cents" else f"{difference:+,}"
    return shown + (f" ({value['percent']:+.1f}%)" if value["percent"] is not None else "")


def _local(value: str, zone: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(ZoneInfo(zone))


@register.filter
def local_time(value: str | None, zone: str) -> str:
    """An ISO instant as hours and minutes on the report's clock: ``14:05``."""
    return f"{_local(value, zone):%H:%M}" if value else EMPTY


@register.filter
def local_datetime(value: str | None, zone: str) -> str:
    """An ISO instant on the report's clock: ``2026-03-29 14:05 CEST``."""
    return f"{_local(value, zone):%Y-%m-%d %H:%M %Z}" if value else EMPTY


FIGURE_NAMES = {
    "tickets": "Tickets sold",
    "revenue_cents": "Revenue",
    "refunds": "Refunds",
    "refund_rate": "Refund rate",
    "payment_success_rate": "Payment success rate",
    "nft_mints": "NFT mints",
}


@register.filter
def figure_name(name: str) -> str:
    return FIGURE_NAMES.get(name, name)
