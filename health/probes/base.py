"""The probe contract: a target in, a result out; never raises for a failing service."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, ClassVar
from urllib.parse import urlparse

import httpx

from health.outcomes import Outcome
from monitoring_site.netguard import health_policy, literal_address_refusal

ERROR_LENGTH = 500
_URL_CREDENTIALS = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)[^/\s@]*@")
_KEYWORD_PASSWORD = re.compile(r"(?i)\b(password|passwd|pwd)\s*=\s*\S+")


def redact(text: str) -> str:
    """Strip credentials from URLs and DSNs in ``text`` and cut it to a sane length."""
    text = _URL_CREDENTIALS.sub(r"\g<scheme>***@", text)
    text = _KEYWORD_PASSWORD.sub(r"\1=***", text)
    text = " ".join(text.split())
    return text if len(text) <= ERROR_LENGTH else text[: ERROR_LENGTH - 1] + "…"


@dataclass(frozen=True)
class ProbeTarget:
    """What a probe needs to know about a service, detached from the ORM (async-safe)."""

    service_id: int
    slug: str
    kind: str
    target: str
    health_path: str = "/health"
    timeout: float = 3.0
    expected_status: int = 200
    context: dict[str, Any] = field(default_factory=dict)


@dataclass
class ProbeResult:
    """The outcome of one probe: up, degraded or down, with a readable reason when not up."""

    outcome: str
    latency_ms: float | None = None
    status_code: int | None = None
    error: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.error = redact(self.error) if self.error else ""

    @classmethod
    def down(cls, error: str, **extra: Any) -> ProbeResult:
        return cls(outcome=Outcome.DOWN, error=error, **extra)


@dataclass
class ProbeSession:
    """Resources shared by the probes of one round; closed when the round ends."""

    http: httpx.AsyncClient
    max_body_bytes: int = 65_536


class Probe:
    """One kind of probe. ``check`` returns a result; the round bounds it in time."""

    kind: ClassVar[str] = ""
    schemes: ClassVar[tuple[str, ...]] = ()
    target_help: ClassVar[str] = "a URL"

    @classmethod
    def validate_target(cls, target: str) -> str:
        """The target, normalised; raises ValueError with a readable message."""
        parsed = urlparse(target)
        if parsed.scheme not in cls.schemes:
            raise ValueError(f"expected {cls.target_help} with scheme {' or '.join(cls.schemes)}")
        if not parsed.hostname:
            raise ValueError("the URL has no host name")
        try:
            parsed.port  # noqa: B018  (raises on a malformed port)
        except ValueError:
            raise ValueError("the port is not a number between 0 and 65535") from None
        refuse_forbidden_hosts(cls.hosts_of(target))
        return target

    @classmethod
    def hosts_of(cls, target: str) -> list[str]:
        """Every host the target names (a DSN may name several, and hostaddr beside them)."""
        return [urlparse(target).hostname or ""]

    async def check(self, target: ProbeTarget, session: ProbeSession) -> ProbeResult:
        raise NotImplementedError


def refuse_forbidden_hosts(hosts: list[str]) -> None:
    """Raise ValueError for a host written as an address health targets may not reach.

    Names are judged when a probe resolves them (``health.probes.guard``).
    """
    for host in hosts:
        reason = literal_address_refusal(host, health_policy())
        if reason is not None:
            raise ValueError(f"{host} is {reason}, which health targets may not reach")


PROBES: dict[str, type[Probe]] = {}


def register(cls: type[Probe]) -> type[Probe]:
    if cls.kind in PROBES:
        raise ValueError(f"probe kind {cls.kind!r} is registered twice")
    PROBES[cls.kind] = cls
    return cls


def get_probe(kind: str) -> Probe:
    try:
        return PROBES[kind]()
    except KeyError:
        raise ValueError(f"unknown probe kind {kind!r}") from None
