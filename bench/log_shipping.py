"""Benchmark of log shipping's cost on the path that logs (issue #14, item 4).

A request or a job that logs must never wait for Elasticsearch. Measured: the time of one
``logger.info(..., extra=...)`` through the root logger with the Elasticsearch shipping handler
installed, while Elasticsearch is unreachable (the worst case: the queue is full and every record
drops the oldest one), against the reference measured in the same run: the same call with the
project's JSON formatter writing to an in-memory stream, which is what every process already
pays to log. Target: shipping costs at most twice the reference (ratio <= 2x).

Run: .venv/bin/python bench/log_shipping.py   Exits 1 when the target is missed.
"""

from __future__ import annotations

import io
import logging
import os
import socket
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "monitoring_site.settings")
os.environ.setdefault("TESTING", "true")

import django

django.setup()

from monitoring_site import shipping  # noqa: E402
from monitoring_site.logging import JsonFormatter  # noqa: E402

RECORDS = 20_000
RUNS = 5
TARGET_RATIO = 2.0


def unreachable_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def per_record_us(logger: logging.Logger) -> float:
    started = time.perf_counter()
    for number in range(RECORDS):
        logger.info("notification delivered", extra={"alert": number, "channel": "ops"})
    return (time.perf_counter() - started) / RECORDS * 1e6


def measure(handler: logging.Handler) -> float:
    logger = logging.getLogger("bench.shipping")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    return statistics.median(per_record_us(logger) for _ in range(RUNS))


def main() -> int:
    stream = logging.StreamHandler(io.StringIO())
    stream.setFormatter(JsonFormatter())
    reference = measure(stream)
    shipper = shipping.Shipper(
        node=f"http://127.0.0.1:{unreachable_port()}", capacity=1_000, flush_seconds=0.05
    )
    shipped = measure(shipping.ShippingHandler(shipper))
    dropped, pending = shipper.dropped, shipper.pending()
    shipper.timeout = 0.1
    shipper.close()
    ratio = shipped / reference
    print(f"log shipping, Elasticsearch down: {shipped:.1f} us per record ({dropped} dropped,")
    print(f"  {pending} kept in the bounded queue); JSON to a stream: {reference:.1f} us")
    print(f"ratio {ratio:.2f}x (target <= {TARGET_RATIO}x)")
    return 0 if ratio <= TARGET_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
