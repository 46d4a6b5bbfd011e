"""The Prometheus HTTP query API as a metrics backend (``METRICS_BACKEND=prometheus``, issue #20).

Any server speaking the API (Prometheus, VictoriaMetrics, Grafana Mimir, Thanos) is reached at
``METRICS_BACKEND_URL`` with ``/api/v1/query``, ``/api/v1/query_range`` and ``/api/v1/series``,
with a bearer token or basic auth, a connect timeout and a per-query timeout that the server is
told as well (its ``timeout`` parameter), so it stops working on a query nobody waits for.

This module only speaks the protocol; what is asked (the rule language's leaves, the business
figures) is decided by its callers. Every failure, from a refused connection to a query the
server rejects, is a :class:`MetricsBackendError` whose text never holds a credential.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

logger = logging.getLogger(__name__)

EMBEDDED = "embedded"
PROMETHEUS = "prometheus"
Labels = dict[str, str]


class MetricsBackendError(Exception):
    """The metrics backend could not answer: unreachable, timed out, or it answered an error."""

    def __init__(self, message: str, *, unreachable: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.unreachable = unreachable


def backend_kind() -> str:
    """``embedded`` or ``prometheus`` (``METRICS_BACKEND``)."""
    return str(settings.METRICS_BACKEND)


def uses_prometheus() -> bool:
    return backend_kind() == PROMETHEUS


@dataclass(frozen=True)
class BackendConfig:
    """How to reach the backend, read from the settings once per client."""

    url: str
    token: str = field(repr=False)
    username: str
    password: str = field(repr=False)
    connect_timeout: float
    timeout: float
    verify: bool

    @classmethod
    def from_settings(cls) -> BackendConfig:
        if not settings.METRICS_BACKEND_URL:
            raise ImproperlyConfigured("METRICS_BACKEND=prometheus needs METRICS_BACKEND_URL")
        return cls(
            url=settings.METRICS_BACKEND_URL.rstrip("/"),
            token=settings.METRICS_BACKEND_TOKEN,
            username=settings.METRICS_BACKEND_USERNAME,
            password=settings.METRICS_BACKEND_PASSWORD,
            connect_timeout=settings.METRICS_BACKEND_CONNECT_TIMEOUT,
            timeout=settings.METRICS_BACKEND_TIMEOUT,
            verify=settings.METRICS_BACKEND_VERIFY_TLS,
        )


def display_url() -> str:
    """``METRICS_BACKEND_URL`` without any user or password it may hold (for alerts and logs)."""
    parts = urlsplit(settings.METRICS_BACKEND_URL or "")
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return parts._replace(netloc=host).geturl()


def _timestamp(moment: datetime) -> str:
    return f"{moment.timestamp():.3f}"


def _number(raw: Any) -> float:
    """A sample value as the API writes it: a string, "NaN", "+Inf" or "-Inf"."""
    try:
        return float(raw)
    except (TypeError, ValueError):
        raise MetricsBackendError(
            f"the backend answered a value that is not a number: {raw!r}"
        ) from None


def _labels(metric: Any) -> Labels:
    if not isinstance(metric, dict):
        raise MetricsBackendError("the backend answered a sample without its labels")
    return {str(k): str(v) for k, v in metric.items() if k != "__name__"}


class PrometheusClient:
    """One connection pool to the backend, safe to share between threads (httpx.Client is).

    ``requests`` counts the queries sent, so tests and the benchmark can check the batching.
    """

    def __init__(self, config: BackendConfig | None = None) -> None:
        self.config = config or BackendConfig.from_settings()
        auth: httpx.Auth | None = None
        headers = {"Accept": "application/json"}
        if self.config.token:
            headers["Authorization"] = f"Bearer {self.config.token}"
        elif self.config.username:
            auth = httpx.BasicAuth(self.config.username, self.config.password)
        self.http = httpx.Client(
            base_url=self.config.url,
            auth=auth,
            headers=headers,
            verify=self.config.verify,
            timeout=httpx.Timeout(self.config.timeout, connect=self.config.connect_timeout),
            limits=httpx.Limits(max_connections=32, max_keepalive_connections=32),
        )
        self.requests = 0
        self._lock = threading.Lock()

    def close(self) -> None:
        self.http.close()

    def query(self, promql: str, *, at: datetime) -> list[tuple[Labels, float]]:
        """An instant query: the result vector (a scalar answer is one unlabelled sample)."""
        data = self._call("/api/v1/query", {"query": promql, "time": _timestamp(at)})
        kind, result = data.get("resultType"), data.get("result")
        if kind == "scalar" and isinstance(result, list) and len(result) == 2:
            return [({}, _number(result[1]))]
        if kind != "vector" or not isinstance(result, list):
            raise MetricsBackendError(f"expected an instant vector from the backend, got {kind}")
        return [(_labels(item.get("metric")), _number(item["value"][1])) for item in result]

    def query_range(
        self, promql: str, *, start: datetime, end: datetime, step: timedelta
    ) -> list[tuple[Labels, list[tuple[float, float]]]]:
        """A range query: per series, its (unix time, value) points."""
        params = {
            "query": promql,
            "start": _timestamp(start),
            "end": _timestamp(end),
            "step": f"{step.total_seconds():g}s",
            # VictoriaMetrics moves the start of a range of more than 50 points to a multiple of
            # the step (for its cache) unless told not to; the others ignore the parameter.
            "nocache": "1",
        }
        data = self._call("/api/v1/query_range", params)
        if data.get("resultType") != "matrix" or not isinstance(data.get("result"), list):
            raise MetricsBackendError("expected a range result (matrix) from the backend")
        return [
            (
                _labels(item.get("metric")),
                [(float(ts), _number(value)) for ts, value in item.get("values", [])],
            )
            for item in data["result"]
        ]

    def series(
        self, matchers: Sequence[str], *, start: datetime, end: datetime
    ) -> list[dict[str, str]]:
        """The label sets (``__name__`` included) of the series matching any of ``matchers``."""
        params: dict[str, Any] = {
            "match[]": list(matchers),
            "start": _timestamp(start),
            "end": _timestamp(end),
        }
        data = self._call("/api/v1/series", params)
        if not isinstance(data, list):
            raise MetricsBackendError("expected a list of series from the backend")
        return [{str(k): str(v) for k, v in item.items()} for item in data]

    def _call(self, path: str, params: dict[str, Any]) -> Any:
        with self._lock:
            self.requests += 1
        params = {**params, "timeout": f"{self.config.timeout:g}s"}
        try:
            response = self.http.post(path, data=params)
        except httpx.TimeoutException:
            raise MetricsBackendError(
                f"the metrics backend did not answer {path} within its timeout", unreachable=True
            ) from None
        except httpx.HTTPError as exc:
            raise MetricsBackendError(
                f"the metrics backend is unreachable ({type(exc).__name__} on {path})",
                unreachable=True,
            ) from None
        return _payload(path, response)


def _payload(path: str, response: httpx.Response) -> Any:
    """The ``data`` of a successful answer, or the backend's own error as the message."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and body.get("status") == "success":
        return body.get("data")
    detail = f"HTTP {response.status_code}"
    if response.status_code in (401, 403):
        detail += ": check METRICS_BACKEND_TOKEN or basic auth"
    elif isinstance(body, dict) and body.get("error"):
        detail += f" ({body.get('errorType', 'error')}: {str(body['error'])[:500]})"
    raise MetricsBackendError(
        f"the metrics backend answered {path} with {detail}",
        unreachable=response.status_code >= 500 or response.status_code == 429,
    )


_client: PrometheusClient | None = None
_client_key: BackendConfig | None = None
_client_lock = threading.Lock()


def client() -> PrometheusClient:
    """The process's client for the configured backend (rebuilt when the settings change)."""
    global _client, _client_key
    config = BackendConfig.from_settings()
    with _client_lock:
        if _client is None or _client_key != config:
            if _client is not None:
                _client.close()
            _client, _client_key = PrometheusClient(config), config
        return _client


# --- business figures (/api/business-metrics, the daily report) ---------------------------------

FIGURE_LABEL = "tt_figure"


def figures_query(queries: dict[str, str]) -> str:
    """Several scalar-like PromQL queries as one: each tagged with its figure, joined by ``or``."""
    return " or ".join(
        f'label_replace({promql}, "{FIGURE_LABEL}", "{figure}", "", "")'
        for figure, promql in queries.items()
    )


def read_figures(queries: dict[str, str], *, at: datetime) -> dict[str, float]:
    """figure -> value at ``at`` in one query; a figure whose query has no data is absent."""
    if not queries:
        return {}
    found: dict[str, float] = {}
    for labels, value in client().query(figures_query(queries), at=at):
        figure = labels.get(FIGURE_LABEL)
        if figure in queries:
            found[figure] = value
    return found


def business_totals_query(counters: dict[str, str], gauge: tuple[str, str]) -> dict[str, str]:
    """The all-time figures: counters' cumulative totals, the gauge's current value, summed."""
    return {**{f: f"sum({name})" for f, name in counters.items()}, gauge[0]: f"sum({gauge[1]})"}


def business_window_query(
    counters: dict[str, str], gauge: tuple[str, str], seconds: int
) -> dict[str, str]:
    """The figures of a window: counters' ``increase``, the gauge's last value in the window."""
    queries = {f: f"sum(increase({name}[{seconds}s]))" for f, name in counters.items()}
    queries[gauge[0]] = f"sum(last_over_time({gauge[1]}[{seconds}s]))"
    return queries
