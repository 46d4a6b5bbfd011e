"""Typed readers for configuration from the environment.

Every reader raises ``ImproperlyConfigured`` naming the variable and what was expected, so a
typo in a deployment stops start-up instead of silently falling back to a default.
"""

from __future__ import annotations

import ipaddress
import os
import warnings
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlparse

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _raw(name: str, environ: Mapping[str, str] | None = None) -> str | None:
    """The stripped value, or None when unset or blank: ``NAME=`` in an env file is unset."""
    value = (environ if environ is not None else os.environ).get(name)
    if value is None or not value.strip():
        return None
    return value.strip()


def env_str(name: str, default: str = "", *, environ: Mapping[str, str] | None = None) -> str:
    value = _raw(name, environ)
    return default if value is None else value


def env_bool(name: str, default: bool, *, environ: Mapping[str, str] | None = None) -> bool:
    value = _raw(name, environ)
    if value is None:
        return default
    lowered = value.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={value!r}: expected true or false (1/0, yes/no, on/off)")


def env_int(
    name: str,
    default: int,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
    environ: Mapping[str, str] | None = None,
) -> int:
    value = _raw(name, environ)
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r}: expected a whole number") from None
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"{name}={number}: must be at least {minimum}")
    if maximum is not None and number > maximum:
        raise ImproperlyConfigured(f"{name}={number}: must be at most {maximum}")
    return number


def env_float(
    name: str,
    default: float,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    environ: Mapping[str, str] | None = None,
) -> float:
    value = _raw(name, environ)
    if value is None or value == "":
        return default
    try:
        number = float(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r}: expected a number") from None
    if number != number or number in (float("inf"), float("-inf")):
        raise ImproperlyConfigured(f"{name}={value!r}: expected a finite number")
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"{name}={number}: must be at least {minimum}")
    if maximum is not None and number > maximum:
        raise ImproperlyConfigured(f"{name}={number}: must be at most {maximum}")
    return number


def env_list(
    name: str, default: list[str], *, environ: Mapping[str, str] | None = None
) -> list[str]:
    value = _raw(name, environ)
    if value is None:
        return list(default)
    return [item.strip() for item in value.split(",") if item.strip()]


def env_url(
    name: str,
    default: str = "",
    *,
    schemes: tuple[str, ...] = ("http", "https"),
    environ: Mapping[str, str] | None = None,
) -> str:
    value = env_str(name, default, environ=environ)
    if not value:
        return value
    parsed = urlparse(value)
    if parsed.scheme not in schemes or not (parsed.hostname or parsed.path):
        raise ImproperlyConfigured(
            f"{name}: expected a URL with scheme {' or '.join(schemes)}, got {_redact(value)!r}"
        )
    if parsed.scheme in ("http", "https") and not parsed.hostname:
        raise ImproperlyConfigured(f"{name}: the URL has no host name")
    try:
        parsed.port  # noqa: B018 - urlparse checks the port only when it is read
    except ValueError:
        raise ImproperlyConfigured(
            f"{name}: the port of {_redact(value)!r} is not a number from 0 to 65535"
        ) from None
    return value


def env_cron(name: str, default: str, *, environ: Mapping[str, str] | None = None) -> str:
    """A five-field cron expression (UTC), checked now: django-q2 would fail at its first run."""
    from croniter import croniter

    value = env_str(name, default, environ=environ)
    if len(value.split()) != 5 or not croniter.is_valid(value):
        raise ImproperlyConfigured(
            f"{name}={value!r}: expected a five-field cron expression such as 0 2 * * *"
        )
    return value


def env_networks(
    name: str, *, environ: Mapping[str, str] | None = None
) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    networks = []
    for item in env_list(name, [], environ=environ):
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ImproperlyConfigured(
                f"{name}: {item!r} is not an IP address or CIDR network"
            ) from None
    return networks


def env_secret(name: str, default: str = "", *, environ: Mapping[str, str] | None = None) -> str:
    """A secret from ``NAME`` or from the file named by ``NAME_FILE`` (Docker/K8s secrets)."""
    file_name = _raw(f"{name}_FILE", environ)
    if file_name:
        try:
            return Path(file_name).read_text().strip()
        except OSError as exc:
            raise ImproperlyConfigured(
                f"{name}_FILE={file_name!r}: cannot read ({exc.strerror})"
            ) from None
    return env_str(name, default, environ=environ)


def _redact(url: str) -> str:
    """The URL with the password of its user part replaced by ``***``."""
    parsed = urlparse(url)
    userinfo, at, host = parsed.netloc.rpartition("@")
    if not at or ":" not in userinfo:
        return url
    user = userinfo.split(":", 1)[0]
    return parsed._replace(netloc=f"{user}:***@{host}").geturl()


def env_duration(name: str, default: str, *, environ: Mapping[str, str] | None = None) -> timedelta:
    """A duration such as ``24h``, ``90m``, ``30s``, ``2d`` (a bare number is seconds)."""
    raw = env_str(name, default, environ=environ).strip().lower()
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    number, unit = (raw[:-1], raw[-1]) if raw and raw[-1] in units else (raw, "s")
    try:
        seconds = float(number) * units[unit]
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r}: expected a duration such as 24h") from None
    if not 1 <= seconds <= 366 * 86400:
        raise ImproperlyConfigured(f"{name}={raw!r}: expected between 1s and 366d")
    return timedelta(seconds=seconds)


def env_renamed(name: str, *, old: str, environ: Mapping[str, str] | None = None) -> str:
    """The variable to read for ``name``: ``old`` when only the deprecated name is set (warned)."""
    if _raw(name, environ) is None and _raw(old, environ) is not None:
        warnings.warn(
            f"{old} is deprecated; set {name} instead (it means the same).",
            FutureWarning,
            stacklevel=2,
        )
        return old
    return name
