"""Scenario files: incidents at offsets from the simulator's start (docs/demo.md, "Scenarios").

A scenario is YAML: ``name``, optional ``description``, and ``incidents``, a list of mappings with
``kind``, ``at`` (offset from the start, may be negative: the incident began before the start,
and the history backfill includes its past part), ``duration`` and the kind's parameters. Every
problem is reported as ``file:line: problem``; unknown keys and kinds are errors.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from health.platform import PLATFORM_SERVICES, SELF_SLUG

BUILTIN = Path(__file__).resolve().parent / "scenarios" / "builtin.yaml"
SIMULATED = tuple(spec.slug for spec in PLATFORM_SERVICES if spec.slug != SELF_SLUG)
QUEUES = ("mint", "email", "webhook")
_DURATION = re.compile(r"^(-?)(\d+)(s|m|h|d|w)$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


@dataclass(frozen=True)
class Param:
    """One parameter of an incident kind: its type, default and allowed range."""

    kind: str  # "service" | "queue" | "number" | "duration"
    default: Any = None
    low: float = 0.0
    high: float = float("inf")


# Each kind and its parameters (beyond kind, at, duration). A parameter without a default is
# required.
KINDS: dict[str, dict[str, Param]] = {
    "service_down": {"service": Param("service")},
    "service_slow": {"service": Param("service"), "latency": Param("duration", 3.0, 0.1, 60)},
    "dependency_outage": {"service": Param("service")},
    "payment_failures": {"rate": Param("number", 0.6, 0, 1)},
    "refund_wave": {"rate": Param("number", 3.0, 0, 100)},
    "queue_backup": {"queue": Param("queue", "mint"), "size": Param("number", 2500, 0, 1e7)},
    "revenue_drop": {"factor": Param("number", 0.2, 0, 1)},
    "solana_failures": {"rate": Param("number", 0.5, 0, 1)},
    "traffic_surge": {"users": Param("number", 14000, 1, 1e7)},
    "database_slow": {"latency_ms": Param("number", 1800, 1, 600000)},
    "error_spike": {"rate": Param("number", 0.15, 0, 1)},
}
COMMON = ("kind", "at", "duration")
TOP_KEYS = ("name", "description", "incidents")


class ScenarioError(ValueError):
    """A problem in a scenario file, with the line it is on."""

    def __init__(self, source: str, line: int | None, problem: str) -> None:
        where = f"{source}:{line}" if line is not None else source
        super().__init__(f"{where}: {problem}")
        self.line = line
        self.problem = problem


@dataclass(frozen=True, eq=False)
class Incident:
    """One scripted incident: ``kind`` from ``start`` for ``duration`` seconds (offsets)."""

    kind: str
    start: float
    duration: float
    params: dict[str, Any] = field(default_factory=dict)
    line: int = 0

    @property
    def end(self) -> float:
        return self.start + self.duration

    def active(self, offset: float) -> bool:
        return self.start <= offset < self.end


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    incidents: tuple[Incident, ...]

    def active(self, offset: float) -> list[Incident]:
        """The incidents in progress ``offset`` seconds after the start."""
        return [incident for incident in self.incidents if incident.active(offset)]

    @property
    def earliest(self) -> float:
        """The earliest start (negative when an incident began before the simulator)."""
        return min((incident.start for incident in self.incidents), default=0.0)


def parse_duration(text: str) -> float:
    """``"90s"``, ``"5m"``, ``"-5m"``, ``"2h"``, ``"35d"``, ``"1w"`` in seconds."""
    match = _DURATION.match(text.strip())
    if not match:
        raise ValueError(f"{text!r} is not a duration (a whole number and s, m, h, d or w: 5m)")
    sign = -1 if match.group(1) else 1
    return float(sign * int(match.group(2)) * _UNITS[match.group(3)])


def load_scenario(path: Path) -> Scenario:
    """Read and check a scenario file; :class:`ScenarioError` names the line and the problem."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(str(path), None, f"cannot read the file ({exc})") from None
    return parse_scenario(text, source=str(path))


def parse_scenario(text: str, *, source: str = "<scenario>") -> Scenario:
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        raise ScenarioError(source, line, f"not valid YAML: {exc.problem}") from None
    except yaml.YAMLError as exc:
        raise ScenarioError(source, None, f"not valid YAML: {exc}") from None
    return _Reader(source).scenario(root)


def _line(node: Node) -> int:
    return int(node.start_mark.line) + 1


class _Reader:
    def __init__(self, source: str) -> None:
        self.source = source

    def error(self, node: Node | None, problem: str) -> ScenarioError:
        return ScenarioError(self.source, _line(node) if node is not None else None, problem)

    def mapping(self, node: Node, what: str, allowed: tuple[str, ...]) -> dict[str, Node]:
        if not isinstance(node, MappingNode):
            raise self.error(node, f"{what}: expected a mapping of keys to values")
        items: dict[str, Node] = {}
        for key, value in node.value:
            name = key.value if isinstance(key, ScalarNode) else None
            if not isinstance(name, str) or name not in allowed:
                raise self.error(
                    key, f"{what}: unknown key {name!r} (allowed: {', '.join(allowed)})"
                )
            if name in items:
                raise self.error(key, f"{what}: {name!r} given twice")
            items[name] = value
        return items

    def text(self, node: Node, what: str) -> str:
        if not isinstance(node, ScalarNode) or not str(node.value).strip():
            raise self.error(node, f"{what}: expected text")
        return str(node.value)

    def scenario(self, root: Node | None) -> Scenario:
        if root is None:
            raise self.error(None, "the file is empty (expected name and incidents)")
        top = self.mapping(root, "scenario", TOP_KEYS)
        if "incidents" not in top:
            raise self.error(root, "scenario: 'incidents' is required")
        listed = top["incidents"]
        if not isinstance(listed, SequenceNode):
            raise self.error(listed, "incidents: expected a list of incidents")
        incidents = tuple(self.incident(node, i) for i, node in enumerate(listed.value))
        name = self.text(top["name"], "name") if "name" in top else "unnamed"
        description = self.text(top["description"], "description") if "description" in top else ""
        return Scenario(name=name, description=description, incidents=incidents)

    def incident(self, node: Node, index: int) -> Incident:
        what = f"incidents[{index}]"
        if not isinstance(node, MappingNode):
            raise self.error(node, f"{what}: expected a mapping with kind, at and duration")
        kind_node = next((v for k, v in node.value if getattr(k, "value", None) == "kind"), None)
        if kind_node is None:
            raise self.error(node, f"{what}: 'kind' is required")
        kind = self.text(kind_node, f"{what}.kind")
        if kind not in KINDS:
            raise self.error(
                kind_node, f"{what}.kind: unknown kind {kind!r} (known: {', '.join(KINDS)})"
            )
        spec = KINDS[kind]
        items = self.mapping(node, f"{what} ({kind})", (*COMMON, *spec))
        for required in ("at", "duration"):
            if required not in items:
                raise self.error(node, f"{what}: {required!r} is required")
        start = self.duration(items["at"], f"{what}.at")
        duration = self.duration(items["duration"], f"{what}.duration")
        if duration <= 0:
            raise self.error(items["duration"], f"{what}.duration: must be positive")
        params = {
            name: self.param(items.get(name), param, f"{what}.{name}", node)
            for name, param in spec.items()
        }
        return Incident(kind, start, duration, params, line=_line(node))

    def duration(self, node: Node, what: str) -> float:
        try:
            return parse_duration(self.text(node, what))
        except ValueError as exc:
            raise self.error(node, f"{what}: {exc}") from None

    def param(self, node: Node | None, param: Param, what: str, parent: Node) -> Any:
        if node is None:
            if param.default is None:
                raise self.error(parent, f"{what}: required")
            return param.default
        raw = self.text(node, what)
        if param.kind == "service":
            if raw not in SIMULATED:
                raise self.error(node, f"{what}: unknown service {raw!r}")
            return raw
        if param.kind == "queue":
            if raw not in QUEUES:
                raise self.error(node, f"{what}: unknown queue {raw!r} ({', '.join(QUEUES)})")
            return raw
        value = self.duration(node, what) if param.kind == "duration" else self.number(node, what)
        if not param.low <= value <= param.high:
            raise self.error(node, f"{what}: {raw} is outside {param.low:g} to {param.high:g}")
        return value

    def number(self, node: Node, what: str) -> float:
        try:
            return float(self.text(node, what))
        except ValueError:
            raise self.error(node, f"{what}: expected a number") from None
