"""``manage.py run_evaluator``: the evaluator loop, until SIGTERM or SIGINT."""

from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import Any

from django.core.management.base import BaseCommand

from alerts.engine.evaluator import Evaluator


class Command(BaseCommand):
    help = (
        "Evaluate the alert rules every RULE_EVALUATION_INTERVAL_SECONDS, sooner for rules whose "
        "series just received samples. One evaluator per cluster holds the lease; others wait."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        stop = threading.Event()

        def ask_to_stop(signum: int, frame: FrameType | None) -> None:
            stop.set()

        signal.signal(signal.SIGTERM, ask_to_stop)
        signal.signal(signal.SIGINT, ask_to_stop)
        evaluator = Evaluator()
        self.stdout.write(f"evaluator {evaluator.holder} started")
        evaluator.run(stop)
        self.stdout.write("evaluator stopped")
