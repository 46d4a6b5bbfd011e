"""Where the rule language reads its leaves: the embedded store or a Prometheus-compatible backend.

A *leaf* is what the evaluator fetches: a selector with its window and offset, and the range
function applied to it (``rate(x[5m] offset 1h)``), or a bare selector (``x``: the latest value).
Leaves that share a selector, window and offset are one *group*, read with one query whatever
functions the rules apply to it. Everything above the leaves (aggregations, arithmetic, vector
matching, ``histogram_quantile``) is computed here, the same way for every backend.

- :class:`EmbeddedBackend` (``METRICS_BACKEND=embedded``) reads the stored buckets and rollups
  (:mod:`alerts.language.planner`): one SQL query per group.
- :class:`PrometheusBackend` (``METRICS_BACKEND=prometheus``) sends one PromQL query per group to
  ``/api/v1/query`` (or ``/api/v1/query_range`` for a backtest); a group read by several range
  functions asks for all of them at once, each tagged by ``label_replace``, joined by ``or``.

A group that cannot be read (the backend is down, times out, or answers an error) fails only the
expressions that read it, with :class:`BackendError`; a backend found unreachable is not asked
again in the same batch, so a dead backend costs one timeout per cycle, not one per leaf.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from django.conf import settings
from django.utils import timezone

from alerts.language import functions as fn
from alerts.language.backtest import BacktestLeaves
from alerts.language.errors import RuleError
from alerts.language.planner import Horizons, fetch
from alerts.language.tree import Call, Sample, Selector, children
from metrics_app import backend as remote
from metrics_app.selectors import SeriesData

RANGE_FUNCTIONS = frozenset(
    {
        "rate",
        "increase",
        "avg_over_time",
        "min_over_time",
        "max_over_time",
        "sum_over_time",
        "last_over_time",
        "count_over_time",
        # predict_linear(v[d], t) reads two leaves: the line's value now ("predict_linear" at
        # t = 0) and its slope ("deriv"); the evaluator adds slope * t (t may be any scalar).
        "predict_linear",
        "deriv",
    }
)
POINT_FUNCTIONS = frozenset({"predict_linear", "deriv"})  # fitted to the window's points
LEAF_LABEL = "tt_leaf"  # tags each function's samples in a query that asks for several
DISCOVERY_WINDOW = timedelta(hours=1)


class BackendError(RuleError):
    """The metrics backend could not give a leaf's data (unreachable, timeout, error answer)."""

    kind = "backend"


@dataclass(frozen=True)
class Leaf:
    """A range function over a selector (``func`` set), or a bare selector (``func`` None)."""

    func: str | None
    selector: Selector

    @property
    def group(self) -> tuple:
        return self.selector.leaf_key()

    @property
    def key(self) -> tuple:
        return (self.func, self.group)


def leaves_of(trees: Iterable[object]) -> list[Leaf]:
    """The distinct leaves of ``trees`` (expression trees), in a stable order."""
    found: dict[tuple, Leaf] = {}
    stack = list(trees)
    while stack:
        node = stack.pop()
        if isinstance(node, Call) and node.func in RANGE_FUNCTIONS:
            selector = node.args[0]
            if isinstance(selector, Selector) and selector.window is not None:
                leaf = Leaf(node.func, selector)
                found.setdefault(leaf.key, leaf)
                if node.func == "predict_linear":
                    slope = Leaf("deriv", selector)
                    found.setdefault(slope.key, slope)
                continue
        if isinstance(node, Selector):
            leaf = Leaf(None, node)
            found.setdefault(leaf.key, leaf)
            continue
        stack.extend(children(node))  # type: ignore[arg-type]
    return sorted(found.values(), key=lambda leaf: repr(leaf.key))


def groups_of(leaves: Iterable[Leaf]) -> dict[tuple, list[Leaf]]:
    grouped: dict[tuple, list[Leaf]] = {}
    for leaf in leaves:
        grouped.setdefault(leaf.group, []).append(leaf)
    return grouped


class LeafValues(Protocol):
    """The samples of each leaf at one instant (what the evaluator computes from)."""

    def samples(self, func: str | None, selector: Selector) -> list[Sample]: ...


class MetricsBackend(Protocol):
    """Reads leaves at an instant, or at each instant of a backtest."""

    name: str

    def read(self, leaves: Sequence[Leaf], *, at: datetime) -> LeafValues: ...

    def read_range(
        self, leaves: Sequence[Leaf], *, start: datetime, step: timedelta, steps: int
    ) -> Iterator[LeafValues]: ...


# --- embedded -------------------------------------------------------------------------------------


def _instant(row: SeriesData) -> float:
    """A gauge's last value in the lookback, or a counter's cumulative total."""
    return row.last if row.value != row.value else row.value  # value is NaN for gauges


class StoredValues:
    """Leaves from the rows the embedded store folded per group (one SQL query each)."""

    def __init__(self, rows: dict[tuple, list[SeriesData]], *, at: datetime | None = None) -> None:
        self.rows = rows
        self.at = at  # the instant these leaves are read at (the origin of fitted lines)

    def samples(self, func: str | None, selector: Selector) -> list[Sample]:
        rows = self.rows.get(selector.leaf_key(), [])
        if func is None:
            return [Sample(dict(row.labels), _instant(row)) for row in rows]
        if func in POINT_FUNCTIONS:
            return self._fitted(func, rows)
        window = selector.window or 0
        return [Sample(dict(row.labels), fn.range_function(func, row, window)) for row in rows]

    def _fitted(self, func: str, rows: list[SeriesData]) -> list[Sample]:
        if self.at is None:
            raise RuleError(f"{func}() needs the evaluation instant")
        out = []
        for row in rows:
            line = fn.linear_fit(row.points or [], at=self.at.timestamp())
            if line is not None:
                out.append(
                    Sample(dict(row.labels), line[0] if func == "predict_linear" else line[1])
                )
        return out


def _needs_points(members: Sequence[Leaf]) -> bool:
    return any(leaf.func in POINT_FUNCTIONS for leaf in members)


class EmbeddedBackend:
    """This service's own buckets and rollups (``METRICS_BACKEND=embedded``)."""

    name = remote.EMBEDDED

    def __init__(self) -> None:
        self.queries = 0

    def read(self, leaves: Sequence[Leaf], *, at: datetime) -> LeafValues:
        horizons = Horizons(timezone.now())
        rows = {}
        for group, members in groups_of(leaves).items():
            self.queries += 1
            rows[group] = fetch(
                members[0].selector, at=at, horizons=horizons, points=_needs_points(members)
            )
        return StoredValues(rows, at=at)

    def read_range(
        self, leaves: Sequence[Leaf], *, start: datetime, step: timedelta, steps: int
    ) -> Iterator[LeafValues]:
        groups = groups_of(leaves)
        selectors = {group: members[0].selector for group, members in groups.items()}
        points = {group for group, members in groups.items() if _needs_points(members)}
        history = BacktestLeaves(
            selectors, first=start, last=start + (steps - 1) * step, points=points
        )
        for index in range(steps):
            moment = start + index * step
            yield StoredValues(history.at(moment), at=moment)


# --- Prometheus HTTP API --------------------------------------------------------------------------


def _quote(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def _duration(seconds: int) -> str:
    return f"{seconds}s"


def promql_selector(selector: Selector) -> str:
    """``name{label="v",...}[300s] offset 60s`` (matchers sorted: one text per group)."""
    matchers = sorted((m.label, m.op, m.value) for m in selector.matchers)
    inner = ",".join(f"{label}{op}{_quote(value)}" for label, op, value in matchers)
    text = f"{selector.name}{{{inner}}}" if inner else selector.name
    if selector.window is not None:
        text += f"[{_duration(selector.window)}]"
    if selector.offset:
        text += f" offset {_duration(selector.offset)}"
    return text


def promql_leaf(leaf: Leaf) -> str:
    selector = promql_selector(leaf.selector)
    if leaf.func == "predict_linear":
        return f"predict_linear({selector}, 0)"  # the value now; the slope is deriv's leaf
    return selector if leaf.func is None else f"{leaf.func}({selector})"


def promql_group(members: Sequence[Leaf]) -> str:
    """One query for a group: the leaf itself, or every function tagged and joined by ``or``."""
    if len(members) == 1:
        return promql_leaf(members[0])
    return " or ".join(
        f'label_replace({promql_leaf(leaf)}, "{LEAF_LABEL}", "{index}", "", "")'
        for index, leaf in enumerate(members)
    )


def _split(
    members: Sequence[Leaf], samples: list[tuple[dict[str, str], float]]
) -> dict[tuple, list[Sample]]:
    """The samples of a group's query, back to each member leaf."""
    if len(members) == 1:
        return {members[0].key: [Sample(labels, value) for labels, value in samples]}
    out: dict[tuple, list[Sample]] = {leaf.key: [] for leaf in members}
    for labels, value in samples:
        tag = labels.pop(LEAF_LABEL, None)
        if tag is not None and tag.isdigit() and int(tag) < len(members):
            out[members[int(tag)].key].append(Sample(labels, value))
    return out


class RemoteValues:
    """Leaves answered by the backend: samples per leaf, or the error that its group met."""

    def __init__(self, found: dict[tuple, list[Sample] | BackendError]) -> None:
        self.found = found

    def samples(self, func: str | None, selector: Selector) -> list[Sample]:
        value = self.found.get((func, selector.leaf_key()), [])
        if isinstance(value, BackendError):
            raise value
        return [Sample(dict(s.labels), s.value) for s in value]


class PrometheusBackend:
    """A server speaking the Prometheus HTTP query API (``METRICS_BACKEND=prometheus``)."""

    name = remote.PROMETHEUS

    def __init__(self, client: remote.PrometheusClient | None = None) -> None:
        self.client = client or remote.client()

    @property
    def queries(self) -> int:
        return self.client.requests

    def read(self, leaves: Sequence[Leaf], *, at: datetime) -> LeafValues:
        def ask(members: list[Leaf]) -> dict[tuple, list[Sample]]:
            return _split(members, self.client.query(promql_group(members), at=at))

        return RemoteValues(self._batch(leaves, ask))

    def read_range(
        self, leaves: Sequence[Leaf], *, start: datetime, step: timedelta, steps: int
    ) -> Iterator[LeafValues]:
        end = start + (steps - 1) * step
        seconds = step.total_seconds()

        def ask(members: list[Leaf]) -> dict[tuple, list[list[Sample]]]:
            series = self.client.query_range(promql_group(members), start=start, end=end, step=step)
            per_step: list[list[tuple[dict[str, str], float]]] = [[] for _ in range(steps)]
            for labels, points in series:
                for stamp, value in points:
                    index = round((stamp - start.timestamp()) / seconds)
                    if 0 <= index < steps:
                        per_step[index].append((dict(labels), value))
            split = [_split(members, samples) for samples in per_step]
            return {leaf.key: [part[leaf.key] for part in split] for leaf in members}

        answers = self._batch(leaves, ask)
        for index in range(steps):
            yield RemoteValues(
                {
                    key: value if isinstance(value, BackendError) else value[index]
                    for key, value in answers.items()
                }
            )

    def discover(self, names: Sequence[str], *, at: datetime) -> set[str]:
        """Which of the metric ``names`` have series in the backend in the hour before ``at``
        (one ``/api/v1/series`` request)."""
        if not names:
            return set()
        matchers = [f"{{__name__={_quote(name)}}}" for name in names]
        try:
            found = self.client.series(matchers, start=at - DISCOVERY_WINDOW, end=at)
        except remote.MetricsBackendError as exc:
            raise BackendError(exc.message) from None
        return {labels.get("__name__", "") for labels in found} & set(names)

    def _batch(
        self, leaves: Sequence[Leaf], ask: Callable[[list[Leaf]], dict[tuple, Any]]
    ) -> dict[tuple, Any]:
        """Each group asked once, a few at a time; a group's failure lands on its leaves."""
        groups = list(groups_of(leaves).values())
        found: dict[tuple, Any] = {}
        down: list[BackendError] = []

        def one(members: list[Leaf]) -> None:
            if down:  # the backend was found unreachable: do not wait for it again
                failure = BackendError(f"not asked: {down[0].message}")
                found.update({leaf.key: failure for leaf in members})
                return
            try:
                found.update(ask(members))
            except remote.MetricsBackendError as exc:
                failure = BackendError(exc.message)
                if exc.unreachable:
                    down.append(failure)
                found.update({leaf.key: failure for leaf in members})

        workers = min(settings.METRICS_BACKEND_CONCURRENCY, len(groups))
        if workers <= 1:
            for members in groups:
                one(members)
        else:
            with ThreadPoolExecutor(max_workers=workers) as pool:
                list(pool.map(one, groups))
        return found


def absent_metrics(names: Sequence[str], *, at: datetime) -> list[str]:
    """Warnings for the metrics a Prometheus backend holds no series of (none when embedded)."""
    if not remote.uses_prometheus():
        return []
    try:
        present = PrometheusBackend().discover(names, at=at)
    except BackendError as exc:
        return [f"the metrics backend could not be asked which metrics it holds: {exc.message}"]
    return [
        f"the metrics backend holds no series of {name} in the last hour"
        for name in names
        if name not in present
    ]


_forced: ContextVar[MetricsBackend | None] = ContextVar("forced_metrics_backend", default=None)


@contextmanager
def reading_from(backend: MetricsBackend) -> Iterator[None]:
    """Evaluate through ``backend`` within the block, whatever ``METRICS_BACKEND`` says (rule
    tests read the samples they pushed to the embedded store)."""
    token = _forced.set(backend)
    try:
        yield
    finally:
        _forced.reset(token)


def metrics_backend() -> MetricsBackend:
    """The backend ``METRICS_BACKEND`` names (or the one :func:`reading_from` imposes)."""
    forced = _forced.get()
    if forced is not None:
        return forced
    if remote.uses_prometheus():
        return PrometheusBackend()
    return EmbeddedBackend()
