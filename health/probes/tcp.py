"""TCP probes: the port accepts a connection."""

from __future__ import annotations

import contextlib
import time
from urllib.parse import urlparse

from health.outcomes import Outcome
from health.probes.base import (
    Probe,
    ProbeResult,
    ProbeSession,
    ProbeTarget,
    refuse_forbidden_hosts,
    register,
)
from health.probes.guard import open_connection
from monitoring_site.netguard import BlockedAddress


def host_and_port(target: str) -> tuple[str, int]:
    parsed = urlparse(target if "://" in target else f"tcp://{target}")
    try:
        port = parsed.port
    except ValueError:
        port = None
    if parsed.scheme != "tcp" or not parsed.hostname or not port:
        raise ValueError("expected host:port (or tcp://host:port) with a port from 1 to 65535")
    return parsed.hostname, port


@register
class TcpProbe(Probe):
    """Connect to host:port and close again."""

    kind = "tcp"
    target_help = "host:port"

    @classmethod
    def validate_target(cls, target: str) -> str:
        host, _port = host_and_port(target)
        refuse_forbidden_hosts([host])
        return target

    async def check(self, target: ProbeTarget, session: ProbeSession) -> ProbeResult:
        host, port = host_and_port(target.target)
        started = time.perf_counter()
        try:
            _reader, writer = await open_connection(host, port)
        except BlockedAddress as exc:
            return ProbeResult.down(str(exc))
        except OSError as exc:
            return ProbeResult.down(f"connection failed: {exc.strerror or exc}")
        latency = round((time.perf_counter() - started) * 1000, 2)
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        return ProbeResult(Outcome.UP, latency_ms=latency)
