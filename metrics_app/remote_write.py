"""Prometheus remote write 1.0: a ``WriteRequest`` in protobuf, compressed in snappy's block format.

The message is small and fixed, so it is encoded by hand rather than through generated code::

    message WriteRequest { repeated TimeSeries timeseries = 1; }
    message TimeSeries   { repeated Label labels = 1; repeated Sample samples = 2; }
    message Label        { string name = 1; string value = 2; }
    message Sample       { double value = 1; int64 timestamp = 2; }   // milliseconds since epoch

The protocol asks for labels sorted by name (``__name__`` among them) and, within a series,
samples in time order: a receiver such as Prometheus rejects a whole request when one sample is
older than what it already holds for that series. :func:`encode_samples` groups samples by series
and sorts them; it does not know what the receiver holds (the forwarder keeps that).
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import cramjam

NAME_LABEL = "__name__"
# What every remote write sender sends with the body (the protocol's required headers).
HEADERS = {
    "Content-Encoding": "snappy",
    "Content-Type": "application/x-protobuf",
    "X-Prometheus-Remote-Write-Version": "0.1.0",
    "User-Agent": "tickettoken-monitoring",
}

_VARINT = 0
_FIXED64 = 1
_LENGTH = 2
_DOUBLE = struct.Struct("<d")


@dataclass(frozen=True)
class RemoteSample:
    """One value of one series: its metric name, labels (without ``__name__``), value and time."""

    name: str
    labels: Mapping[str, str]
    value: float
    timestamp_ms: int


def encode_samples(samples: Iterable[RemoteSample]) -> bytes:
    """The request body for ``samples``: grouped by series, in time order, protobuf + snappy."""
    return compress(write_request(group_series(samples)))


def group_series(
    samples: Iterable[RemoteSample],
) -> list[tuple[tuple[tuple[str, str], ...], list[tuple[float, int]]]]:
    """``(sorted labels with __name__, [(value, ms), ...] in time order)`` per series.

    Two samples of one series at the same millisecond keep the later one given.
    """
    series: dict[tuple[tuple[str, str], ...], dict[int, float]] = {}
    for sample in samples:
        labels = tuple(sorted({**sample.labels, NAME_LABEL: sample.name}.items()))
        series.setdefault(labels, {})[sample.timestamp_ms] = sample.value
    return [
        (labels, [(values[ms], ms) for ms in sorted(values)]) for labels, values in series.items()
    ]


def write_request(
    series: Iterable[tuple[Sequence[tuple[str, str]], Sequence[tuple[float, int]]]],
) -> bytes:
    """A ``WriteRequest`` message (uncompressed) from ``(labels, [(value, ms), ...])`` pairs."""
    out = bytearray()
    for labels, points in series:
        _field(out, 1, _time_series(labels, points))
    return bytes(out)


def compress(message: bytes) -> bytes:
    """Snappy's block format (not its framed stream format), as remote write requires."""
    return bytes(cramjam.snappy.compress_raw(message))


def decompress(body: bytes) -> bytes:
    return bytes(cramjam.snappy.decompress_raw(body))


def _time_series(labels: Sequence[tuple[str, str]], points: Sequence[tuple[float, int]]) -> bytes:
    out = bytearray()
    for name, text in labels:
        label = bytearray()
        _field(label, 1, name.encode())
        _field(label, 2, text.encode())
        _field(out, 1, bytes(label))
    for value, ms in points:
        sample = bytearray()
        # proto3 leaves out fields at their default; receivers read a missing field as 0.
        if value != 0 or math.copysign(1.0, value) < 0:
            _key(sample, 1, _FIXED64)
            sample += _DOUBLE.pack(value)
        if ms:
            _key(sample, 2, _VARINT)
            _varint(sample, ms)
        _field(out, 2, bytes(sample))
    return bytes(out)


def _field(out: bytearray, number: int, payload: bytes) -> None:
    _key(out, number, _LENGTH)
    _varint(out, len(payload))
    out += payload


def _key(out: bytearray, number: int, wire_type: int) -> None:
    _varint(out, number << 3 | wire_type)


def _varint(out: bytearray, value: int) -> None:
    value &= (1 << 64) - 1  # int64: a negative value is its two's complement, ten bytes long
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)


# --- reading (tests and diagnostics: what a receiver sees) ----------------------------------------


def decode_write_request(body: bytes) -> list[tuple[dict[str, str], list[tuple[float, int]]]]:
    """The series of a snappy-compressed ``WriteRequest``: ``(labels, [(value, ms), ...])``."""
    result = []
    for number, payload in _fields(decompress(body)):
        if number != 1 or not isinstance(payload, bytes):
            continue
        labels: dict[str, str] = {}
        points: list[tuple[float, int]] = []
        for inner, item in _fields(payload):
            if inner == 1 and isinstance(item, bytes):
                parts = dict(_fields(item))
                labels[_text(parts.get(1))] = _text(parts.get(2))
            elif inner == 2 and isinstance(item, bytes):
                parts = dict(_fields(item))
                raw = parts.get(1)
                value = _DOUBLE.unpack(raw)[0] if isinstance(raw, bytes) else 0.0
                ms = parts.get(2, 0)
                points.append((value, _signed(ms if isinstance(ms, int) else 0)))
        result.append((labels, points))
    return result


def _text(raw: int | bytes | None) -> str:
    return raw.decode() if isinstance(raw, bytes) else ""


def _signed(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def _fields(data: bytes) -> list[tuple[int, int | bytes]]:
    """The (field number, value) pairs of a message: varints as int, fixed64 and bytes as bytes."""
    fields: list[tuple[int, int | bytes]] = []
    at = 0
    while at < len(data):
        key, at = _read_varint(data, at)
        number, wire_type = key >> 3, key & 7
        if wire_type == _VARINT:
            value, at = _read_varint(data, at)
            fields.append((number, value))
        elif wire_type == _FIXED64:
            fields.append((number, data[at : at + 8]))
            at += 8
        elif wire_type == _LENGTH:
            size, at = _read_varint(data, at)
            fields.append((number, data[at : at + size]))
            at += size
        else:
            raise ValueError(f"unsupported wire type {wire_type} at byte {at}")
    return fields


def _read_varint(data: bytes, at: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if at >= len(data):
            raise ValueError("truncated varint")
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, at
        shift += 7
