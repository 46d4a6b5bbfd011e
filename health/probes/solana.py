"""Solana JSON-RPC probes: ``getHealth`` for the state, ``getSlot`` for the slot."""

from __future__ import annotations

import json
import time
from typing import Any

from health.outcomes import Outcome
from health.probes.base import Probe, ProbeResult, ProbeSession, ProbeTarget, register
from health.probes.http import FetchError, fetch

# getHealth answers this code while the node is behind the cluster: it serves, but stale data.
NODE_UNHEALTHY = -32005


async def rpc(session: ProbeSession, url: str, method: str, timeout: float) -> Any:
    """The ``result`` of one JSON-RPC call; raises FetchError, or RpcError for an error reply."""
    payload = {"jsonrpc": "2.0", "id": 1, "method": method}
    fetched = await fetch(session, "POST", url, timeout=timeout, payload=payload)
    if fetched.status_code != 200:
        raise FetchError(f"{method}: HTTP {fetched.status_code}")
    try:
        document = json.loads(fetched.body)
    except (ValueError, UnicodeDecodeError):
        raise FetchError(f"{method}: response is not valid JSON") from None
    if not isinstance(document, dict):
        raise FetchError(f"{method}: response is not a JSON-RPC object")
    if document.get("error"):
        raise RpcError(document["error"])
    if "result" not in document:
        raise FetchError(f"{method}: response has no result")
    return document["result"]


class RpcError(Exception):
    def __init__(self, error: Any) -> None:
        error = error if isinstance(error, dict) else {"message": str(error)}
        self.code = error.get("code")
        self.message = str(error.get("message", "error"))[:200]
        super().__init__(self.message)


@register
class SolanaRpcProbe(Probe):
    """``getHealth`` ("ok" is up, node behind is degraded), then ``getSlot`` for the slot."""

    kind = "solana_rpc"
    schemes = ("http", "https")
    target_help = "an http(s) JSON-RPC URL"

    async def check(self, target: ProbeTarget, session: ProbeSession) -> ProbeResult:
        started = time.perf_counter()
        outcome, error = Outcome.UP, ""
        try:
            health = await rpc(session, target.target, "getHealth", target.timeout)
            if health != "ok":
                outcome, error = Outcome.DEGRADED, f"getHealth answered {str(health)[:40]!r}"
        except RpcError as exc:
            if exc.code != NODE_UNHEALTHY:
                return ProbeResult.down(f"getHealth: {exc.message}", latency_ms=_ms(started))
            outcome, error = Outcome.DEGRADED, f"getHealth: {exc.message}"
        except FetchError as exc:
            return ProbeResult.down(str(exc), latency_ms=_ms(started))
        latency = _ms(started)
        details: dict[str, Any] = {}
        try:
            slot = await rpc(session, target.target, "getSlot", target.timeout)
            if isinstance(slot, int):
                details["slot"] = slot
        except (RpcError, FetchError) as exc:
            details["slot_error"] = str(exc)[:200]
        return ProbeResult(
            outcome, latency_ms=latency, status_code=200, error=error, details=details
        )


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)
