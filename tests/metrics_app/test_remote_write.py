"""The remote write encoder: exact protobuf bytes, snappy block format, and real receivers."""

from __future__ import annotations

import time
from pathlib import Path

import cramjam
import pytest
import requests

from metrics_app.remote_write import (
    HEADERS,
    RemoteSample,
    decode_write_request,
    encode_samples,
    write_request,
)
from tests.support.tsdb import Prometheus, VictoriaMetrics


def test_one_sample_encodes_to_the_exact_protobuf_bytes() -> None:
    message = write_request([([("__name__", "up")], [(1.0, 1000)])])

    label = bytes.fromhex("0a08") + b"__name__" + bytes.fromhex("1202") + b"up"
    sample = bytes.fromhex("09000000000000f03f") + bytes.fromhex("10e807")
    series = bytes.fromhex("0a0e") + label + bytes.fromhex("120c") + sample
    assert message == bytes.fromhex("0a1e") + series


def test_the_body_is_snappy_block_format_of_the_message() -> None:
    body = encode_samples([RemoteSample("up", {}, 1.0, 1000)])

    assert bytes(cramjam.snappy.decompress_raw(body)) == write_request(
        [([("__name__", "up")], [(1.0, 1000)])]
    )


def test_samples_are_grouped_by_series_with_sorted_labels_in_time_order() -> None:
    body = encode_samples(
        [
            RemoteSample("orders_total", {"service": "order", "env": "prod"}, 5.0, 3000),
            RemoteSample("orders_total", {"env": "prod", "service": "order"}, 2.0, 1000),
            RemoteSample("queue_depth", {"service": "queue"}, 0.0, 2000),
            RemoteSample("orders_total", {"service": "order", "env": "prod"}, 6.0, 3000),
        ]
    )

    decoded = decode_write_request(body)
    assert decoded == [
        (
            {"__name__": "orders_total", "env": "prod", "service": "order"},
            [(2.0, 1000), (6.0, 3000)],
        ),
        ({"__name__": "queue_depth", "service": "queue"}, [(0.0, 2000)]),
    ]
    names = [list(labels) for labels, _ in decoded]
    assert names == [["__name__", "env", "service"], ["__name__", "service"]]


def test_negative_values_and_large_timestamps_survive_the_round_trip() -> None:
    samples = [RemoteSample("delta", {"k": "é ✓"}, -2.5, 1_767_225_600_123)]

    assert decode_write_request(encode_samples(samples)) == [
        ({"__name__": "delta", "k": "é ✓"}, [(-2.5, 1_767_225_600_123)])
    ]


def _push_and_read(server: Prometheus | VictoriaMetrics) -> list[dict]:
    now_ms = int(time.time() * 1000)
    body = encode_samples(
        [
            RemoteSample("tt_orders_total", {"service": "order"}, 3.0, now_ms - 2000),
            RemoteSample("tt_orders_total", {"service": "order"}, 7.0, now_ms - 1000),
        ]
    )
    response = requests.post(server.remote_write_url, data=body, headers=HEADERS, timeout=10)
    assert response.status_code in (200, 204), response.text
    return server.wait_for('tt_orders_total{service="order"}')


def test_prometheus_accepts_the_body_and_serves_the_latest_value(tmp_path: Path) -> None:
    with Prometheus(tmp_path) as prometheus:
        result = _push_and_read(prometheus)

    assert [(row["metric"], row["value"][1]) for row in result] == [
        ({"__name__": "tt_orders_total", "service": "order"}, "7")
    ]


def test_victoria_metrics_accepts_the_body_and_serves_the_latest_value(tmp_path: Path) -> None:
    with VictoriaMetrics(tmp_path) as victoria:
        result = _push_and_read(victoria)

    assert [(row["metric"], row["value"][1]) for row in result] == [
        ({"__name__": "tt_orders_total", "service": "order"}, "7")
    ]


@pytest.mark.parametrize("server_class", [Prometheus, VictoriaMetrics])
def test_a_body_that_is_not_snappy_is_refused_by_the_receiver(
    tmp_path: Path, server_class: type[Prometheus] | type[VictoriaMetrics]
) -> None:
    message = write_request([([("__name__", "up")], [(1.0, int(time.time() * 1000))])])

    with server_class(tmp_path) as server:
        response = requests.post(server.remote_write_url, data=message, headers=HEADERS, timeout=10)

    assert response.status_code == 400
