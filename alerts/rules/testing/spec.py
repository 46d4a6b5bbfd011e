"""Reading a rule test file: YAML into checked dataclasses, every problem with its line.

The format (docs/rules.md, "Rule tests") follows ``promtool test rules``: the rules under test
(slugs of stored rules, or inline definitions with the API's fields), then tests, each with input
series in the compact notation and the alerts expected at evaluation times. Unknown keys are
refused, so a misspelt key is an error rather than a test that checks nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import yaml
from django.conf import settings
from django.utils.text import slugify

from alerts.language import RuleError
from alerts.language.parser import parse_tree
from alerts.language.tree import Selector
from alerts.models import Alert, Rule
from alerts.rules.testing.notation import NotationError, Point, parse_values
from metrics_app.catalogue import GAUGE, HISTOGRAM, SUMMARY, resolve_series_name
from metrics_app.ingest import Sample, SampleError, parse_sample
from monitoring_site.api.params import ParameterError, parse_duration

MAX_BYTES = 100 * 1024
MAX_POINTS = 10_000
MAX_TESTS = 100
MAX_RULES = 50
MAX_SERIES = 1_000
MAX_CYCLES = 2_000  # evaluation cycles per file (a request must end within the web timeout)
MAX_SPAN = 35 * 86400  # how far a test's timeline reaches
MAX_COUNT = 1_000  # observations per point of a histogram series
STATES = (Alert.State.PENDING, Alert.State.FIRING, Alert.State.ACKNOWLEDGED)
INLINE_KEYS = frozenset(
    {
        "name",
        "slug",
        "description",
        "expression",
        "operator",
        "threshold",
        "for",
        "keep_firing_for",
        "cooldown",
        "severity",
        "labels",
        "annotations",
        "no_data",
        "min_volume_expression",
        "min_volume",
    }
)


class SpecError(Exception):
    """A problem of the file, at a line (1-based; 0 when the file as a whole is at fault)."""

    def __init__(self, message: str, *, line: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.line = line

    def where(self, name: str) -> str:
        return f"{name}:{self.line}: {self.message}" if self.line else f"{name}: {self.message}"


class TooLarge(SpecError):
    """Past the size or point limits (the API answers 413)."""


# --- YAML with lines ---------------------------------------------------------------------------


class _Map(dict[str, Any]):
    """A mapping that remembers its own line and the line of each key."""

    line = 0
    lines: dict[Any, int]


class _List(list[Any]):
    """A sequence that remembers its own line and the line of each item."""

    line = 0
    lines: list[int]


class _Loader(yaml.SafeLoader):
    pass


def _construct_map(loader: _Loader, node: yaml.MappingNode) -> _Map:
    loader.flatten_mapping(node)
    result = _Map()
    result.line, result.lines = node.start_mark.line + 1, {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, str):
            raise SpecError("keys must be text", line=key_node.start_mark.line + 1)
        if key in result:
            raise SpecError(f"{key!r} is given twice", line=key_node.start_mark.line + 1)
        result[key] = loader.construct_object(value_node, deep=True)
        result.lines[key] = key_node.start_mark.line + 1
    return result


def _construct_list(loader: _Loader, node: yaml.SequenceNode) -> _List:
    result = _List(loader.construct_object(item, deep=True) for item in node.value)
    result.line = node.start_mark.line + 1
    result.lines = [item.start_mark.line + 1 for item in node.value]
    return result


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_map)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_list)


def load_yaml(text: str) -> Any:
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 (a SafeLoader with line tracking)
    except SpecError:
        raise
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 0
        message = f"not valid YAML: {exc.problem or exc.context}"
        if exc.context and exc.context_mark is not None and exc.problem:
            message += f" ({exc.context}, from line {exc.context_mark.line + 1})"
        raise SpecError(message, line=line) from None
    except yaml.YAMLError as exc:
        raise SpecError(f"not valid YAML: {exc}") from None


# --- the parts of a file -----------------------------------------------------------------------


@dataclass
class InputSeries:
    """One input series: its family, labels and points (``count`` observations per point)."""

    line: int
    text: str
    name: str
    kind: str
    labels: dict[str, str]
    points: list[Point]
    count: int = 1
    sample: Sample | None = field(default=None, repr=False)


@dataclass
class ExpectedAlert:
    line: int
    labels: dict[str, str]
    annotations: dict[str, str]
    state: str = Alert.State.FIRING


@dataclass
class AlertCheck:
    """The open alerts of one rule expected at one evaluation time (none: ``exp_alerts: []``)."""

    line: int
    eval_time: int
    alertname: str
    expected: list[ExpectedAlert]


@dataclass
class TestCase:
    __test__ = False  # not a pytest class

    line: int
    name: str
    interval: int
    evaluate_from: int
    series: list[InputSeries]
    checks: list[AlertCheck]

    def instants(self, every: int) -> list[int]:
        """When cycles run: every ``every`` seconds from ``evaluate_from``, and at each check."""
        last = max((check.eval_time for check in self.checks), default=self.evaluate_from)
        grid = set(range(self.evaluate_from, last + 1, every))
        return sorted(grid | {check.eval_time for check in self.checks})

    def cycles_at_most(self, every: int) -> int:
        """An upper bound of ``len(instants(every))``, without building them."""
        last = max((check.eval_time for check in self.checks), default=self.evaluate_from)
        return (last - self.evaluate_from) // every + 1 + len(self.checks)

    def span(self) -> int:
        longest = max((len(s.points) for s in self.series), default=1)
        last_check = max((check.eval_time for check in self.checks), default=0)
        return max((longest - 1) * self.interval, last_check)


@dataclass
class RuleUnderTest:
    """A stored rule (by slug) or an inline one: the model fields it is created with."""

    line: int
    fields: dict[str, Any]

    @property
    def names(self) -> tuple[str, str]:
        return (str(self.fields["name"]), str(self.fields["slug"]))


@dataclass
class TestFile:
    __test__ = False  # not a pytest class

    name: str
    rules: list[RuleUnderTest]
    evaluation_interval: int
    tests: list[TestCase]


# --- reading -----------------------------------------------------------------------------------

TOP_KEYS = frozenset({"rules", "evaluation_interval", "tests"})
TEST_KEYS = frozenset({"name", "interval", "evaluate_from", "input_series", "alert_rule_test"})
SERIES_KEYS = frozenset({"series", "values", "count"})
CHECK_KEYS = frozenset({"eval_time", "alertname", "exp_alerts"})
EXPECTED_KEYS = frozenset({"exp_labels", "exp_annotations", "exp_state"})


def read_test_file(text: str, *, name: str = "<file>") -> TestFile:
    """The checked test file; SpecError (TooLarge past the limits) names the line at fault."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        raise TooLarge(f"the file is larger than {MAX_BYTES // 1024} KB")
    root = load_yaml(text)
    doc = _mapping(root, "the file", 1, TOP_KEYS, required=("rules", "tests"))
    every = _duration(
        doc, "evaluation_interval", settings.RULE_EVALUATION_INTERVAL_SECONDS, minimum=1
    )
    rules = [_rule(item, line) for item, line in _items(doc, "rules", 1, MAX_RULES)]
    _unique_rules(rules)
    budget = [MAX_POINTS, MAX_CYCLES]
    tests = [
        _test(item, line, index, rules, every, budget)
        for index, (item, line) in enumerate(_items(doc, "tests", 1, MAX_TESTS))
    ]
    return TestFile(name=name, rules=rules, evaluation_interval=every, tests=tests)


def _line(container: Any, key: Any) -> int:
    lines = getattr(container, "lines", None)
    if isinstance(lines, dict):
        return lines.get(key, container.line)
    if isinstance(lines, list) and isinstance(key, int) and key < len(lines):
        return lines[key]
    return getattr(container, "line", 0)


def _mapping(
    value: Any, what: str, line: int, keys: frozenset[str], required: tuple[str, ...] = ()
) -> _Map:
    if not isinstance(value, _Map):
        raise SpecError(f"{what}: expected a mapping of keys to values", line=line)
    unknown = sorted(set(value) - keys)
    if unknown:
        raise SpecError(
            f"unknown key {unknown[0]!r} (expected {', '.join(sorted(keys))})",
            line=_line(value, unknown[0]),
        )
    for key in required:
        if key not in value:
            raise SpecError(f"{what}: {key!r} is required", line=value.line or line)
    return value


def _items(doc: _Map, key: str, line: int, limit: int) -> list[tuple[Any, int]]:
    value = doc.get(key)
    where = _line(doc, key) or line
    if value is None:
        return []
    if not isinstance(value, _List):
        raise SpecError(f"{key}: expected a list", line=where)
    if len(value) > limit:
        raise TooLarge(f"{key}: at most {limit} items", line=where)
    return [(item, value.lines[index]) for index, item in enumerate(value)]


def _duration(doc: _Map, key: str, default: int, *, minimum: int = 0) -> int:
    if key not in doc:
        return default
    raw, line = doc[key], _line(doc, key)
    if isinstance(raw, bool) or not isinstance(raw, int | str):
        raise SpecError(f'{key}: expected a duration such as "30s", "5m" or "1h"', line=line)
    try:
        seconds = raw if isinstance(raw, int) else parse_duration(raw)
    except ParameterError as exc:
        raise SpecError(f"{key}: {exc}", line=line) from None
    if not minimum <= seconds <= MAX_SPAN:
        raise SpecError(f"{key}: must be between {minimum}s and 35d", line=line)
    return seconds


def _text(doc: _Map, key: str, *, required: bool = True) -> str:
    raw = doc.get(key)
    if raw is None and not required:
        return ""
    if not isinstance(raw, str) or (required and not raw.strip()):
        raise SpecError(f"{key}: expected text", line=_line(doc, key) or doc.line)
    return raw


def _string_map(doc: _Map, key: str) -> dict[str, str]:
    raw = doc.get(key)
    if raw is None:
        return {}
    if not isinstance(raw, _Map) or not all(isinstance(v, str | int | float) for v in raw.values()):
        raise SpecError(f"{key}: expected a mapping of names to text", line=_line(doc, key))
    return {name: str(value) for name, value in raw.items()}


# --- rules -------------------------------------------------------------------------------------

RuleLookup = Callable[[str], Rule | None]


def _stored_rule(slug: str, line: int) -> RuleUnderTest:
    rule = Rule.objects.filter(slug=slug).first()
    if rule is None:
        raise SpecError(f"rules: no rule has the slug {slug!r}", line=line)
    if rule.builtin:
        raise SpecError(f"rules: {slug!r} is raised by the engine itself and has no expression",
                        line=line)  # fmt: skip
    skipped = {"id", "escalation_policy", "version", "created_at", "updated_at", "enabled"}
    fields = {
        f.name: getattr(rule, f.name)
        for f in Rule._meta.concrete_fields
        if f.name not in skipped and f.name not in _runtime_fields()
    }
    return RuleUnderTest(line=line, fields=fields)


def _runtime_fields() -> tuple[str, ...]:
    from alerts.models.rules import RUNTIME_FIELDS

    return RUNTIME_FIELDS


def _inline_rule(doc: _Map, line: int) -> RuleUnderTest:
    from alerts.api.serializers.rules import API_NAME, RuleSerializer

    _mapping(doc, "an inline rule", line, INLINE_KEYS, required=("name", "expression"))
    data = dict(doc)
    data["slug"] = data.get("slug") or slugify(str(data["name"]))[:200]
    serializer = RuleSerializer(data=data)
    if not serializer.is_valid():
        key, messages = next(iter(serializer.errors.items()))
        api_key = API_NAME.get(key, key)
        message = messages[0] if isinstance(messages, list) else messages
        raise SpecError(f"rules: {api_key}: {message}", line=_line(doc, api_key))
    fields = dict(serializer.validated_data)
    fields.pop("notification_channels", None)
    fields.pop("escalation_policy", None)
    return RuleUnderTest(line=line, fields=fields)


def _rule(item: Any, line: int) -> RuleUnderTest:
    if isinstance(item, str):
        return _stored_rule(item.strip(), line)
    if isinstance(item, _Map):
        return _inline_rule(item, line)
    raise SpecError("rules: expected a rule's slug or an inline rule (a mapping)", line=line)


def _unique_rules(rules: list[RuleUnderTest]) -> None:
    seen: set[str] = set()
    for rule in rules:
        for name in rule.names:
            if name in seen:
                raise SpecError(f"rules: {name!r} is under test twice", line=rule.line)
        seen.update(set(rule.names))


# --- tests -------------------------------------------------------------------------------------


def _test(
    item: Any,
    line: int,
    index: int,
    rules: list[RuleUnderTest],
    every: int,
    budget: list[int],
) -> TestCase:
    doc = _mapping(item, f"test {index + 1}", line, TEST_KEYS, required=("alert_rule_test",))
    name = _text(doc, "name", required=False) or f"test {index + 1}"
    interval = _duration(doc, "interval", 60, minimum=1)
    start = _duration(doc, "evaluate_from", 0)
    series = [
        _series(entry, at, interval, budget)
        for entry, at in _items(doc, "input_series", line, MAX_SERIES)
    ]
    checks = [_check(entry, at, rules) for entry, at in _items(doc, "alert_rule_test", line, 1000)]
    case = TestCase(line, name, interval, start, series, checks)
    early = [check for check in checks if check.eval_time < start]
    if early:
        raise SpecError("eval_time: before evaluate_from", line=early[0].line)
    if case.span() > MAX_SPAN:
        raise SpecError("the test reaches past 35 days", line=line)
    budget[1] -= case.cycles_at_most(every)
    if budget[1] < 0:
        raise TooLarge(
            f"more than {MAX_CYCLES} evaluations in the file, counting every test from "
            "evaluate_from to its last eval_time (raise evaluate_from or evaluation_interval)",
            line=line,
        )
    return case


def _series(item: Any, line: int, interval: int, budget: list[int]) -> InputSeries:
    doc = _mapping(item, "an input series", line, SERIES_KEYS, required=("series", "values"))
    text = _text(doc, "series")
    name, labels = _selector(text, _line(doc, "series"))
    resolved = resolve_series_name(name)
    if resolved is None or resolved[1]:
        raise SpecError(
            f"series: {name!r} is not a metric of the catalogue (a histogram or summary is given "
            "by its family name, with observations as values)",
            line=_line(doc, "series"),
        )
    spec = resolved[0]
    count = _count(doc, spec.type)
    raw = doc["values"]
    values_line = _line(doc, "values")
    if isinstance(raw, bool) or not isinstance(raw, str | int | float):
        raise SpecError("values: expected values in the compact notation", line=values_line)
    try:
        points = parse_values(str(raw), limit=budget[0])
    except NotationError as exc:
        error = TooLarge if exc.message.startswith("more than") else SpecError
        message = f"values: {exc.message} (column {exc.column} of the values)"
        if error is TooLarge:
            message = f"values: more than {MAX_POINTS} input points in the file"
        raise error(message, line=values_line) from None
    budget[0] -= len(points)
    sample = _sample(spec.name, spec.type, labels, points, count, _line(doc, "series"))
    kind = spec.type if spec.type in (HISTOGRAM, SUMMARY, GAUGE) else "counter"
    return InputSeries(line, text, spec.name, kind, sample.labels, points, count, sample)


def _count(doc: _Map, kind: str) -> int:
    if "count" not in doc:
        return 1
    raw, line = doc["count"], _line(doc, "count")
    if kind not in (HISTOGRAM, SUMMARY):
        raise SpecError(f"count: only for histograms and summaries, not a {kind}", line=line)
    if isinstance(raw, bool) or not isinstance(raw, int) or not 1 <= raw <= MAX_COUNT:
        raise SpecError(f"count: expected a whole number from 1 to {MAX_COUNT}", line=line)
    return raw


def _selector(text: str, line: int) -> tuple[str, dict[str, str]]:
    try:
        tree = parse_tree(text)
    except RuleError as exc:
        raise SpecError(f"series: {exc}", line=line) from None
    if not isinstance(tree, Selector) or tree.window is not None or tree.offset:
        raise SpecError('series: expected one series, e.g. queue_size{queue="mint"}', line=line)
    if any(matcher.op != "=" for matcher in tree.matchers):
        raise SpecError("series: labels are given with =, not a pattern", line=line)
    return tree.name, {matcher.label: matcher.value for matcher in tree.matchers}


def _sample(
    name: str, kind: str, labels: dict[str, str], points: list[Point], count: int, line: int
) -> Sample:
    """A sample of the series, checked as the ingest API checks one (labels, values)."""
    from django.utils import timezone

    values = [point for point in points if isinstance(point, float)]
    raw: dict[str, Any] = {"metric": name, "labels": labels}
    if kind in (HISTOGRAM, SUMMARY):
        raw["observations"] = [values[0] if values else 0.0]
    else:
        raw["value"] = abs(values[0]) if values and kind != GAUGE else (values or [0.0])[0]
    try:
        return parse_sample(raw, now=timezone.now(), service=None, multi_service=True)
    except SampleError as exc:
        raise SpecError(f"series: {exc}", line=line) from None


def _check(item: Any, line: int, rules: list[RuleUnderTest]) -> AlertCheck:
    doc = _mapping(item, "an alert check", line, CHECK_KEYS, required=("eval_time", "alertname"))
    if "eval_time" not in doc:
        raise SpecError("eval_time: required", line=line)
    eval_time = _duration(doc, "eval_time", 0)
    alertname = _text(doc, "alertname")
    if not any(alertname in rule.names for rule in rules):
        raise SpecError(
            f"alertname: {alertname!r} is not a rule under test (give its name or slug)",
            line=_line(doc, "alertname"),
        )
    raw = doc.get("exp_alerts")
    if raw is None:
        raw = _List()
    if not isinstance(raw, _List):
        raise SpecError(
            "exp_alerts: expected a list (empty: no alert)", line=_line(doc, "exp_alerts")
        )
    expected = [_expected(entry, raw.lines[i]) for i, entry in enumerate(raw)]
    return AlertCheck(line, eval_time, alertname, expected)


def _expected(item: Any, line: int) -> ExpectedAlert:
    doc = _mapping(item, "an expected alert", line, EXPECTED_KEYS)
    state = str(doc.get("exp_state", Alert.State.FIRING))
    if state not in STATES:
        raise SpecError(
            f"exp_state: {state!r}; expected one of {', '.join(STATES)}",
            line=_line(doc, "exp_state"),
        )
    annotations = _string_map(doc, "exp_annotations")
    unknown = sorted(set(annotations) - {"summary", "description"})
    if unknown:
        raise SpecError(
            f"exp_annotations: {unknown[0]!r}; a rule's annotations are summary and description",
            line=_line(doc, "exp_annotations"),
        )
    return ExpectedAlert(
        line=line,
        labels=_string_map(doc, "exp_labels"),
        annotations=annotations,
        state=state,
    )


def with_sample_time(sample: Sample, **changes: Any) -> Sample:
    return sample._replace(**changes)
