"""A writer process for the concurrency tests: waits at a file barrier, then stores batches.

    python concurrent_writer.py <barrier dir> <writer index> <rounds> <mode>

mode ``increments``: every round adds the same increments to shared series.
mode ``new-series``: every round tries to create one new label set of errors_total.
mode ``new-series-of-service``: the same, pushed as the ingest token of service "w" would.
Prints one line per round: ``ok`` or the error code.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "monitoring_site.settings")

import django

django.setup()

from django.utils import timezone  # noqa: E402

from metrics_app.catalogue import get_metric  # noqa: E402
from metrics_app.errors import SamplesRejected  # noqa: E402
from metrics_app.ingest import Sample  # noqa: E402
from metrics_app.services import store_samples  # noqa: E402


def batch(mode: str, writer: int, round_: int) -> list[Sample]:
    now = timezone.now()
    if mode in ("new-series", "new-series-of-service"):
        spec = get_metric("errors_total")
        assert spec is not None
        return [Sample(spec, {"service": "w", "type": f"w{writer}-r{round_}"}, (1.0,), now)]
    counter, histogram, gauge = (
        get_metric("tickets_sold_total"),
        get_metric("http_request_duration_ms"),
        get_metric("queue_size"),
    )
    assert counter and histogram and gauge
    return [
        Sample(counter, {"service": "ticket"}, (1.0,), now),
        Sample(counter, {"service": "order"}, (2.0,), now),
        Sample(histogram, {"service": "ticket", "route": "/buy"}, (40.0, 4000.0), now),
        Sample(gauge, {"service": "queue", "queue": "mint"}, (float(writer),), now),
    ]


def main() -> None:
    barrier, writer, rounds, mode = (
        Path(sys.argv[1]),
        int(sys.argv[2]),
        int(sys.argv[3]),
        sys.argv[4],
    )
    from django.db import connection

    connection.ensure_connection()  # connected before the barrier, so all start together
    (barrier / f"ready-{writer}").touch()
    while not (barrier / "go").exists():
        time.sleep(0.005)
    for round_ in range(rounds):
        try:
            service = "w" if mode == "new-series-of-service" else None
            store_samples(samples=batch(mode, writer, round_), service=service)
            print("ok", flush=True)
        except SamplesRejected as exc:
            print(exc.code, flush=True)


if __name__ == "__main__":
    main()
