"""Reading fetched records whose header names are not UTF-8, instead of failing on them.

Kafka's protocol types a header name as a UTF-8 string, but the broker stores whatever
bytes a producer sent. aiokafka decodes the names strictly while it unpacks a fetched batch:
one record with such a name makes every `getmany` raise, the position never moves past it,
and the partition is stuck for every replica. Kafka's Java client reads those bytes as
U+FFFD instead. Here a batch whose strict reading fails is read again by aiokafka's own
pure-Python reader with the bytes that are not UTF-8 kept as lone surrogates
("surrogateescape"), so the record reaches the worker, which refuses it as a record
(worker/messages/binding.py) rather than stalling on it.

`tolerate_undecodable_header_names()` installs this once for the process's consumers.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import Any, SupportsIndex

import aiokafka.consumer.fetcher as fetcher
from aiokafka.record.default_records import _DefaultRecordBatchPy
from aiokafka.record.memory_records import MemoryRecords

_BATCH_LENGTH = struct.Struct(">i")
_LENGTH_OFFSET = 8  # base offset (int64), then the batch's length (int32)
_LOG_OVERHEAD = 12
_MAGIC_OFFSET = 16
_RECORD_BATCH_V2 = 2


class _LenientBytes(bytearray):
    """Bytes whose slices decode what is not UTF-8 as lone surrogates rather than raising."""

    def __getitem__(self, index: SupportsIndex | slice) -> Any:
        item = super().__getitem__(index)
        return _LenientBytes(item) if isinstance(index, slice) else item

    def decode(self, encoding: str = "utf-8", errors: str = "strict") -> str:
        return super().decode(encoding, "surrogateescape")


class _LenientBatch(_DefaultRecordBatchPy):  # type: ignore[misc]
    def __init__(self, buffer: bytes) -> None:
        super().__init__(buffer)
        self._buffer: bytearray = _LenientBytes(buffer)

    def _maybe_uncompress(self) -> None:
        super()._maybe_uncompress()
        self._buffer = _LenientBytes(self._buffer)


class _BatchReadAgainOnBadNames:
    """One fetched batch: read by aiokafka's fast reader, and again leniently from the first
    record that reader could not decode."""

    def __init__(self, batch: Any, raw: bytes) -> None:
        self._batch = batch
        self._raw = raw

    def __getattr__(self, name: str) -> Any:
        return getattr(self._batch, name)

    def __next__(self) -> Any:  # aiokafka reads a control batch's marker with next()
        return next(self._batch)

    def __iter__(self) -> Iterator[Any]:
        read = 0
        try:
            for record in self._batch:
                yield record
                read += 1
        except UnicodeDecodeError:
            for index, record in enumerate(_LenientBatch(self._raw)):
                if index >= read:
                    yield record


class _LenientMemoryRecords:
    """aiokafka's MemoryRecords, whose record batches of format v2 are read leniently."""

    def __init__(self, data: bytes) -> None:
        self._records = MemoryRecords(data)
        self._data = data
        self._position = 0

    def size_in_bytes(self) -> int:
        return int(self._records.size_in_bytes())

    def has_next(self) -> bool:
        return bool(self._records.has_next())

    def next_batch(self) -> Any:
        batch = self._records.next_batch()
        if batch is None:
            return None
        start = self._position
        (length,) = _BATCH_LENGTH.unpack_from(self._data, start + _LENGTH_OFFSET)
        self._position = end = start + _LOG_OVERHEAD + length
        if self._data[start + _MAGIC_OFFSET] != _RECORD_BATCH_V2:
            return batch  # v0 and v1 records have no headers
        return _BatchReadAgainOnBadNames(batch, bytes(self._data[start:end]))


def tolerate_undecodable_header_names() -> None:
    """Makes aiokafka's fetcher read header names that are not UTF-8 (idempotent)."""
    fetcher.MemoryRecords = _LenientMemoryRecords
