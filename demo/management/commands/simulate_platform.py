"""``manage.py simulate_platform``: the TicketToken platform on this machine (docs/demo.md)."""

from __future__ import annotations

import random
import signal
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any, TextIO

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection
from django.utils import timezone

from demo.history import backfill, history_start, replay_health
from demo.platform import PortInUse, SimulatedPlatform
from demo.receivers import ReceiverPorts, Receivers
from demo.scenario import BUILTIN, Scenario, ScenarioError, load_scenario, parse_duration
from demo.simulator import Pusher, Simulator, point_registry
from metrics_app.services import create_ingest_token, revoke_ingest_token

RECENT = timedelta(hours=1)  # history written before the live traffic starts; the rest after
HEALTH_REPLAY = timedelta(minutes=10)  # health rounds replayed before the start


class Command(BaseCommand):
    help = (
        "Simulate the TicketToken platform: health endpoints on 127.0.0.1, traffic through the "
        "ingest API, incidents from a scenario file, optional history and local receivers."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--scenario",
            type=Path,
            default=BUILTIN,
            help="Scenario YAML (default: the built-in scenario).",
        )
        parser.add_argument(
            "--check", action="store_true", help="Validate the scenario file and exit."
        )
        parser.add_argument(
            "--history", default="", help="Backfill this much past traffic first, e.g. 35d (once)."
        )
        parser.add_argument(
            "--history-only",
            action="store_true",
            help="Backfill the history and exit (no servers, no traffic).",
        )
        parser.add_argument(
            "--url", default="", help="The monitor's URL (default: http://127.0.0.1:$PORT)."
        )
        parser.add_argument(
            "--base-port",
            type=int,
            default=3300,
            help="Simulated services listen on base + (default port - 3000).",
        )
        parser.add_argument(
            "--receivers",
            action="store_true",
            help="Start the demo's SMTP, Slack, PagerDuty and webhook receivers.",
        )
        parser.add_argument(
            "--receiver-port",
            type=int,
            default=3330,
            help="SMTP on this port, Slack, PagerDuty, webhook on the next three.",
        )
        parser.add_argument(
            "--tick", type=float, default=5.0, help="Seconds between pushes (default 5)."
        )
        parser.add_argument(
            "--run-for", default="", help="Stop after this long (e.g. 10m); default: until Ctrl-C."
        )
        parser.add_argument("--seed", type=int, default=0, help="Random seed of the traffic.")
        parser.add_argument(
            "--record",
            type=Path,
            default=None,
            help="Append every batch pushed (time, outcome, samples) to this file as JSON lines.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        scenario = self._scenario(options["scenario"])
        if options["check"]:
            self.stdout.write(
                f"{options['scenario']}: scenario {scenario.name!r} is valid, "
                f"{len(scenario.incidents)} incidents"
            )
            return
        history = self._duration(options["history"], "--history") if options["history"] else None
        run_for = self._duration(options["run_for"], "--run-for") if options["run_for"] else None
        if options["tick"] < 0.5:
            raise CommandError("--tick: at least 0.5 seconds")
        started = time.time()
        now = timezone.now()
        if options["history_only"]:
            if history is None:
                raise CommandError("--history-only needs --history (e.g. --history 35d)")
            start = history_start(span=history, until=now)
            backfill(start=start, end=now, scenario=scenario, seed=options["seed"], log=self._say)
            return
        self._run(scenario, options, started, history, run_for)

    def _run(
        self,
        scenario: Scenario,
        options: dict[str, Any],
        started: float,
        history: timedelta | None,
        run_for: float | None,
    ) -> None:
        stop = threading.Event()
        record = self._record(options["record"])
        platform = SimulatedPlatform(
            base_port=options["base_port"], incidents=scenario.incidents, started=started
        )
        receivers = self._receivers(options)
        try:
            platform.start()
            if receivers is not None:
                receivers.start()
        except PortInUse as exc:
            if receivers is not None:
                receivers.stop()
            platform.stop()
            if record is not None:
                record.close()
            hint = "choose other ports with --base-port or --receiver-port"
            raise CommandError(f"{exc}; {hint}") from None
        token, raw = create_ingest_token(
            service="simulator", name="simulate_platform", multi_service=True
        )
        older: threading.Thread | None = None
        try:
            self._point(platform, receivers)
            if history is not None:
                older = self._history(scenario, history, options["seed"], stop)
            pusher = Pusher(base_url=self._url(options), token=raw, out=self._say, record=record)
            simulator = Simulator(
                scenario=scenario,
                pusher=pusher,
                started=started,
                tick=options["tick"],
                seed=options["seed"],
                out=self._say,
            )
            self._say(
                f"simulating {len(platform.ports)} services on 127.0.0.1:"
                f"{min(platform.ports.values())}-{max(platform.ports.values())}, "
                f"scenario {scenario.name!r}, pushing to {pusher.url} every "
                f"{options['tick']:g} s; Ctrl-C stops"
            )
            with _signals_set(stop):
                counts = simulator.run(stop, run_for)
            self._say(f"stopped: {counts.summary()}")
        finally:
            stop.set()
            if older is not None:
                older.join(timeout=60)
            platform.stop()
            if receivers is not None:
                receivers.stop()
            revoke_ingest_token(token=token)
            if record is not None:
                record.close()

    def _scenario(self, path: Path) -> Scenario:
        try:
            return load_scenario(path)
        except ScenarioError as exc:
            raise CommandError(str(exc)) from None

    def _duration(self, text: str, option: str) -> Any:
        try:
            seconds = parse_duration(text)
        except ValueError as exc:
            raise CommandError(f"{option}: {exc}") from None
        if seconds <= 0:
            raise CommandError(f"{option}: must be positive")
        return timedelta(seconds=seconds) if option == "--history" else seconds

    def _record(self, path: Path | None) -> TextIO | None:
        if path is None:
            return None
        try:
            return path.open("a", encoding="utf-8")
        except OSError as exc:
            raise CommandError(f"--record: cannot write {path} ({exc.strerror})") from None

    def _url(self, options: dict[str, Any]) -> str:
        return options["url"] or f"http://127.0.0.1:{settings.PORT}"

    def _receivers(self, options: dict[str, Any]) -> Receivers | None:
        if not options["receivers"]:
            return None
        ports = ReceiverPorts.from_base(options["receiver_port"])
        return Receivers(ports=ports, inbox=Path(settings.DEMO_INBOX_FILE))

    def _point(self, platform: SimulatedPlatform, receivers: Receivers | None) -> None:
        changed, missing = point_registry(platform)
        if missing:
            self._say(f"not in the registry (run `manage.py bootstrap`): {', '.join(missing)}")
        if changed:
            self._say(f"registry: {len(changed)} services now point at the simulated ones")
        if receivers is not None:
            from demo.channels import ensure_demo_webhook

            ensure_demo_webhook(url=receivers.ports.webhook_url)
            self._say(
                f"receivers: SMTP 127.0.0.1:{receivers.ports.smtp}, Slack, PagerDuty and "
                f"webhook on the next ports; inbox {receivers.inbox}"
            )

    def _history(
        self, scenario: Scenario, span: timedelta, seed: int, stop: threading.Event
    ) -> threading.Thread | None:
        """The last hour now (the first windows need it), older history in the background."""
        now = timezone.now()
        start = history_start(span=span, until=now)
        if start >= now:
            self._say("history: already written")
            return None
        recent = max(start, now - RECENT)
        backfill(start=recent, end=now, scenario=scenario, seed=seed, log=self._say)
        rounds = replay_health(
            start=max(recent, now - HEALTH_REPLAY),
            end=now,
            incidents=scenario.incidents,
            rng=random.Random(seed),
        )
        self._say(f"history: {rounds} health rounds of the last minutes replayed")
        if recent <= start:
            return None

        def older() -> None:
            try:
                backfill(
                    start=start,
                    end=recent,
                    scenario=scenario,
                    started_at=now,
                    seed=seed + 1,
                    log=self._say,
                    stop=stop,
                )
            finally:
                connection.close()

        thread = threading.Thread(target=older, name="history", daemon=True)
        thread.start()
        return thread

    def _say(self, line: str) -> None:
        self.stdout.write(f"{timezone.now():%H:%M:%S} {line}")
        self.stdout.flush()


class _signals_set:
    """SIGINT and SIGTERM set ``stop`` (the loop ends cleanly) while the simulator runs."""

    def __init__(self, stop: threading.Event) -> None:
        self.stop = stop
        self.previous: dict[int, Any] = {}

    def __enter__(self) -> None:
        for sig in (signal.SIGINT, signal.SIGTERM):
            self.previous[sig] = signal.signal(sig, lambda *_: self.stop.set())

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)
