"""A health round: every probe at once, under one overall deadline that really cancels.

Per-request timeouts in HTTP clients bound each read, not the whole request, so a service that
drips one byte at a time defeats them. Here each probe runs as a task under its own timeout and
all of them under ``asyncio.timeout(deadline)``: at the deadline every unfinished probe is
cancelled, its ``async with`` blocks close what it opened, and it counts as "timed out".
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Coroutine
from typing import Any

import httpx

from health.probes import ProbeResult, ProbeSession, ProbeTarget, get_probe
from health.probes.guard import guarded_transport

logger = logging.getLogger(__name__)
MAX_REDIRECTS = 5


async def probe_all(
    targets: list[ProbeTarget], *, deadline: float, max_body_bytes: int = 65_536
) -> dict[int, ProbeResult]:
    """Probe every target concurrently; the result per service id, never raises."""
    results: dict[int, ProbeResult] = {}
    started = time.perf_counter()
    # No keep-alive and no environment proxies: each round opens and closes its own sockets.
    limits = httpx.Limits(max_connections=max(10, 2 * len(targets)), max_keepalive_connections=0)
    # Every connection, redirects included, passes the address guard (health/probes/guard.py).
    async with httpx.AsyncClient(
        follow_redirects=True,
        max_redirects=MAX_REDIRECTS,
        trust_env=False,
        transport=guarded_transport(limits=limits),
    ) as client:
        session = ProbeSession(http=client, max_body_bytes=max_body_bytes)
        try:
            async with asyncio.timeout(deadline), asyncio.TaskGroup() as group:
                for target in targets:
                    group.create_task(_probe_one(target, session, results))
        except TimeoutError:
            pass
    elapsed = round((time.perf_counter() - started) * 1000, 2)
    for target in targets:
        if target.service_id not in results:
            results[target.service_id] = ProbeResult.down(
                f"timed out: still running at the round deadline of {deadline:g} s",
                latency_ms=elapsed,
            )
    return results


async def _probe_one(
    target: ProbeTarget, session: ProbeSession, results: dict[int, ProbeResult]
) -> None:
    started = time.perf_counter()
    try:
        async with asyncio.timeout(target.timeout):
            result = await get_probe(target.kind).check(target, session)
    except TimeoutError:
        result = ProbeResult.down(f"timed out after {target.timeout:g} s")
    except Exception as exc:  # a faulty probe must not take the round down with it
        logger.exception("probe failed", extra={"service": target.slug, "kind": target.kind})
        result = ProbeResult.down(f"probe error: {type(exc).__name__}: {exc}")
    if result.latency_ms is None:
        result.latency_ms = round((time.perf_counter() - started) * 1000, 2)
    results[target.service_id] = result


def run_probes(
    targets: list[ProbeTarget], *, deadline: float, max_body_bytes: int = 65_536
) -> dict[int, ProbeResult]:
    """Run a round from synchronous code (a job, a view, a shell)."""
    coroutine = probe_all(targets, deadline=deadline, max_body_bytes=max_body_bytes)
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return _run_in_new_loop(coroutine)
    # Called from a thread that already runs a loop: use a short-lived thread of our own.
    box: dict[str, dict[int, ProbeResult]] = {}
    worker = threading.Thread(target=lambda: box.update(r=_run_in_new_loop(coroutine)))
    worker.start()
    worker.join()
    return box["r"]


def _run_in_new_loop(coroutine: Coroutine[Any, Any, dict[int, ProbeResult]]) -> Any:
    """Like ``asyncio.run``, but without waiting for the loop's resolver threads.

    Name lookups run in the loop's default executor and cannot be interrupted; a cancelled probe
    of an unresolvable host leaves its lookup running for the resolver's own timeout (seconds).
    ``asyncio.run`` would wait for it and break the deadline; ``loop.close()`` shuts the executor
    down without waiting, and the thread ends as soon as the lookup returns.
    """
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(coroutine)
    finally:
        try:
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            loop.close()
