"""Columns of numbers and times as PostgreSQL binary arrays, encoded by numpy in one pass.

The ingest statements send a batch as one array per column (:mod:`metrics_app.storage`).
psycopg encodes a list element by element in Python, which for the thousands of values of a
batch costs more than PostgreSQL takes to write them; here a column becomes its wire format
(``array_recv``'s: a header, then each element as its length and its big-endian value) with a
few numpy operations, and a psycopg dumper passes the bytes on as they are.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import numpy as np
from psycopg import adapt, pq

_HEADER = struct.Struct(">iiIii")  # dimensions, has nulls, element type; length, lower bound
_EMPTY = struct.Struct(">iiI")
_PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)  # timestamptz: microseconds since then
_MICROSECOND = timedelta(microseconds=1)
_PG_EPOCH_SECONDS = int(_PG_EPOCH.timestamp())


class Packed:
    """A one-dimensional array in PostgreSQL's binary format (no NULL elements)."""

    __slots__ = ("data",)
    element_oid: ClassVar[int]
    element: ClassVar[str]  # numpy's big-endian type of one element

    def __init__(self, values: Sequence[Any]) -> None:
        if not values:
            self.data = _EMPTY.pack(0, 0, self.element_oid)
            return
        size = np.dtype(self.element).itemsize
        body = np.empty(len(values), dtype=[("size", ">i4"), ("value", self.element)])
        body["size"] = size
        body["value"] = self.prepare(values)
        self.data = _HEADER.pack(1, 0, self.element_oid, len(values), 1) + body.tobytes()

    def prepare(self, values: Sequence[Any]) -> Any:
        return values


class Float8Array(Packed):
    __slots__ = ()
    element_oid = 701
    element = ">f8"


class Int8Array(Packed):
    __slots__ = ()
    element_oid = 20
    element = ">i8"


class TimestamptzArray(Packed):
    """Aware datetimes, as whole microseconds (exact: no float on the way)."""

    __slots__ = ()
    element_oid = 1184
    element = ">i8"

    def prepare(self, values: Sequence[Any]) -> Any:
        return [(at - _PG_EPOCH) // _MICROSECOND for at in values]


class EpochSecondsArray(Packed):
    """Whole seconds since 1970 (UTC), as timestamptz."""

    __slots__ = ()
    element_oid = 1184
    element = ">i8"

    def prepare(self, values: Sequence[Any]) -> Any:
        return (np.asarray(values, dtype=np.int64) - _PG_EPOCH_SECONDS) * 1_000_000


class _PackedDumper(adapt.Dumper):
    format = pq.Format.BINARY

    def dump(self, obj: Any) -> bytes:
        return obj.data


def _dumper(array_oid: int) -> type[adapt.Dumper]:
    return type(f"PackedDumper{array_oid}", (_PackedDumper,), {"oid": array_oid})


DUMPERS: dict[type[Packed], type[adapt.Dumper]] = {
    Float8Array: _dumper(1022),  # float8[]
    Int8Array: _dumper(1016),  # int8[]
    TimestamptzArray: _dumper(1185),  # timestamptz[]
    EpochSecondsArray: _dumper(1185),
}

# The SQL type names the statements cast to, and the array that carries each.
BY_TYPE: dict[str, type[Packed]] = {
    "double precision": Float8Array,
    "bigint": Int8Array,
    "timestamptz": TimestamptzArray,
}


def register(adapters: Any) -> None:
    """Teach a psycopg connection's (or cursor's) adapters to send :class:`Packed` arrays."""
    for cls, dumper in DUMPERS.items():
        adapters.register_dumper(cls, dumper)
