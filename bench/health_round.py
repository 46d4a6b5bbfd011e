"""Benchmark of a health round (issue 4).

21 services on 127.0.0.1, served by a separate process: 19 answer after 0-50 ms, one never
answers and one drips a byte every 0.4 s. With a 2 s deadline the whole round (probes and
recording, as the scheduled job runs it) must take at most deadline + 150 ms. A round over 21
healthy services (0-50 ms) must take at most the slowest latency + 100 ms. The reference, measured
in the same run, is the same services probed one by one.

Run: .venv/bin/python bench/health_round.py   (a throw-away SQLite database in a temp directory;
set BENCH_DATABASE_URL=postgres://... to record into PostgreSQL instead). Exits 1 on a miss.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("VAR_DIR", tempfile.mkdtemp(prefix="bench-health-"))
if os.environ.get("BENCH_DATABASE_URL"):
    os.environ["DATABASE_URL"] = os.environ["BENCH_DATABASE_URL"]
else:
    os.environ.pop("DATABASE_URL", None)
os.environ.pop("REDIS_URL", None)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "monitoring_site.settings")
os.environ.setdefault("TESTING", "true")
os.environ.setdefault("LOG_LEVEL", "WARNING")

DEADLINE = 2.0
SLOW_ROUND_BUDGET = DEADLINE + 0.150
HEALTHY_OVERHEAD = 0.100
RUNS = 5
LATENCIES_MS = [round(i * 50 / 20) for i in range(21)]  # 0, 2, 5, ... 50


async def _serve_one(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        request = await reader.readuntil(b"\r\n\r\n")
        path = request.split(b" ", 2)[1].decode()
        if path == "/hang":
            await reader.read()  # answer nothing until the client leaves
            return
        if path == "/drip":
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n")
            writer.write(b"Content-Length: 1000\r\n\r\n")
            while True:
                writer.write(b" ")
                await writer.drain()
                await asyncio.sleep(0.4)
        await asyncio.sleep(int(path.rsplit("/", 1)[1]) / 1000)
        body = b'{"status": "ok"}'
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        await writer.drain()
    except (OSError, asyncio.IncompleteReadError, IndexError, ValueError):
        pass
    finally:
        writer.close()


def serve(sock: socket.socket) -> None:
    async def main() -> None:
        server = await asyncio.start_server(_serve_one, sock=sock, backlog=256)
        async with server:
            await server.serve_forever()

    asyncio.run(main())


def main() -> int:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(256)
    port = sock.getsockname()[1]
    process = multiprocessing.get_context("fork").Process(target=serve, args=(sock,), daemon=True)
    process.start()
    sock.close()
    base = f"http://127.0.0.1:{port}"
    try:
        return run(base)
    finally:
        process.terminate()
        process.join(5)


def run(base: str) -> int:
    import django

    django.setup()
    from django.core.management import call_command

    from health.models import Service
    from health.probes import ProbeSession
    from health.rounds import _probe_one, probe_all
    from health.services import build_targets, ensure_monitor_services, run_round

    call_command("migrate", verbosity=0)
    # The alert engine's hand-off runs after each round as in production; without a rule
    # seeded it only warns once per state change, which would drown the figures.
    logging.getLogger("alerts").setLevel(logging.ERROR)
    ensure_monitor_services()
    Service.objects.filter(kind=Service.Kind.MONITOR).update(enabled=False)

    def register(paths: list[str]) -> None:
        Service.objects.exclude(kind=Service.Kind.MONITOR).delete()
        for index, path in enumerate(paths):
            Service.objects.create(
                slug=f"svc-{index:02d}",
                name=f"Service {index}",
                target=base + path,
                health_path="",
                timeout=5.0,
            )

    def timed_rounds() -> list[float]:
        durations = []
        for _ in range(RUNS):
            started = time.perf_counter()
            run_round(deadline=DEADLINE)
            durations.append(time.perf_counter() - started)
        return durations

    async def one_by_one(targets: list) -> None:
        import httpx

        async with httpx.AsyncClient(trust_env=False) as client:
            session = ProbeSession(http=client)
            results: dict = {}
            for target in targets:
                await _probe_one(target, session, results)

    def sequential() -> float:
        targets = build_targets(Service.objects.filter(enabled=True))
        started = time.perf_counter()
        asyncio.run(one_by_one(targets))
        return time.perf_counter() - started

    # Warm-up: imports, first connections, SQLite file.
    register([f"/svc/{ms}" for ms in LATENCIES_MS])
    asyncio.run(probe_all(build_targets(Service.objects.all()), deadline=DEADLINE))
    run_round(deadline=DEADLINE)

    healthy = statistics.median(timed_rounds())
    healthy_seq = sequential()
    healthy_budget = max(LATENCIES_MS) / 1000 + HEALTHY_OVERHEAD

    register([f"/svc/{ms}" for ms in LATENCIES_MS[:19]] + ["/hang", "/drip"])
    slow = statistics.median(timed_rounds())
    slow_seq = sequential()

    print(
        f"healthy round, 21 services 0-50 ms: {healthy * 1000:.0f} ms "
        f"(target <= {healthy_budget * 1000:.0f} ms); one by one: {healthy_seq * 1000:.0f} ms "
        f"(concurrent is {healthy_seq / healthy:.1f}x faster)"
    )
    print(
        f"round with a hung and a dripping service, deadline {DEADLINE:g} s: {slow * 1000:.0f} ms "
        f"(target <= {SLOW_ROUND_BUDGET * 1000:.0f} ms); one by one: {slow_seq * 1000:.0f} ms "
        f"(concurrent is {slow_seq / slow:.1f}x faster)"
    )
    ok = healthy <= healthy_budget and slow <= SLOW_ROUND_BUDGET
    print("PASS" if ok else "FAIL: a round missed its target")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
