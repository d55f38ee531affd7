"""A fetched record whose header name is not UTF-8 reaches the worker instead of stalling its
partition (worker/kafka_records.py), read through aiokafka's own fetcher classes."""

from __future__ import annotations

import struct
from typing import Any

import aiokafka.consumer.fetcher as fetcher
import pytest
from aiokafka.record.default_records import _DefaultRecordBatchBuilderPy
from aiokafka.record.util import calc_crc32c
from aiokafka.structs import TopicPartition
from hypothesis import given
from hypothesis import strategies as st

from worker.kafka_records import tolerate_undecodable_header_names

GZIP = 1


class _RawName(str):
    """A header name that the library's builder writes as the given bytes, as another
    client could."""

    raw: bytes

    def __new__(cls, raw: bytes) -> _RawName:
        name = super().__new__(cls, raw.decode("utf-8", "surrogateescape"))
        name.raw = raw
        return name

    def encode(self, encoding: str = "utf-8", errors: str = "strict") -> bytes:
        return self.raw


def fetched(names: list[bytes], compression: int = 0) -> bytes:
    """The bytes of one fetched batch of format v2: a record for each header name."""
    builder = _DefaultRecordBatchBuilderPy(
        magic=2,
        compression_type=compression,
        is_transactional=0,
        producer_id=-1,
        producer_epoch=-1,
        base_sequence=-1,
        batch_size=1 << 20,
    )
    for offset, name in enumerate(names):
        builder.append(
            offset, timestamp=1, key=b"k", value=b"v%d" % offset, headers=[(_RawName(name), b"x")]
        )
    return bytes(builder.build())


def consumed(raw: bytes) -> list[Any]:
    records = fetcher.PartitionRecords(
        TopicPartition("t", 0),
        fetcher.MemoryRecords(raw),
        [],
        0,
        None,
        None,
        True,
        "read_uncommitted",
    )
    return list(records)


def test_aiokafka_alone_stalls_on_a_header_name_that_is_not_utf8(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from aiokafka.record.memory_records import MemoryRecords

    monkeypatch.setattr(fetcher, "MemoryRecords", MemoryRecords)
    with pytest.raises(UnicodeDecodeError):
        consumed(fetched([b"ok", b"bad-\xff"]))


@pytest.mark.parametrize("compression", [0, GZIP])
@given(names=st.lists(st.binary(max_size=12), min_size=1, max_size=6))
def test_every_record_is_read_whatever_its_header_names(
    names: list[bytes], compression: int
) -> None:
    tolerate_undecodable_header_names()
    records = consumed(fetched(names, compression))
    assert [record.offset for record in records] == list(range(len(names)))
    assert [record.value for record in records] == [b"v%d" % n for n in range(len(names))]
    assert [record.headers[0][0].encode("utf-8", "surrogateescape") for record in records] == names


def _control_marker(base_offset: int, producer_id: int, commit: bool) -> bytes:
    """A transaction's end marker as the broker writes it: a control batch of one record."""
    raw = bytearray(
        _batch(
            [(struct.pack(">hh", 0, int(commit)), struct.pack(">hi", 0, 0), None)],
            base_offset,
            producer_id=producer_id,
        )
    )
    attributes = struct.unpack_from(">h", raw, _ATTRIBUTES)[0] | _CONTROL
    struct.pack_into(">h", raw, _ATTRIBUTES, attributes)
    struct.pack_into(">I", raw, _CRC, calc_crc32c(bytes(raw[_ATTRIBUTES:])))
    return bytes(raw)


_CRC, _ATTRIBUTES, _CONTROL = 17, 21, 0x20


def _batch(
    records: list[tuple[bytes, bytes, bytes | None]],
    base_offset: int,
    compression: int = 0,
    producer_id: int = -1,
) -> bytes:
    builder = _DefaultRecordBatchBuilderPy(
        magic=2,
        compression_type=compression,
        is_transactional=int(producer_id >= 0),
        producer_id=producer_id,
        producer_epoch=0 if producer_id >= 0 else -1,
        base_sequence=0 if producer_id >= 0 else -1,
        batch_size=1 << 20,
    )
    for delta, (key, value, name) in enumerate(records):
        headers = [] if name is None else [(_RawName(name), b"x")]
        builder.append(delta, timestamp=1, key=key, value=value, headers=headers)
    raw = bytearray(builder.build())
    raw[:8] = base_offset.to_bytes(8, "big")  # the broker assigns the offsets
    return bytes(raw)


# one batch: its records' header names, compressed or not, and its transaction's fate
# (None: not transactional)
batches = st.lists(
    st.tuples(
        st.lists(st.binary(max_size=6), min_size=1, max_size=4),
        st.sampled_from([0, GZIP]),
        st.none() | st.booleans(),
    ),
    min_size=1,
    max_size=5,
)


@given(fetched_batches=batches, read_committed=st.booleans())
def test_a_fetch_of_many_batches_yields_each_record_once_in_order_whatever_the_names(
    fetched_batches: list[tuple[list[bytes], int, bool | None]], read_committed: bool
) -> None:
    """Compressed, transactional and control batches, the bad name first, last or alone in
    its batch: every record of a committed or plain batch comes once, in offset order, none of
    an aborted one under read_committed, and the position moves past them all."""
    tolerate_undecodable_header_names()
    raw, expected, aborted, offset = b"", [], [], 0
    for producer_id, (names, compression, committed) in enumerate(fetched_batches):
        records = [(b"k", b"v%d" % (offset + n), name) for n, name in enumerate(names)]
        pid = -1 if committed is None else producer_id
        raw += _batch(records, offset, compression, pid)
        if not (read_committed and committed is False):
            expected += list(range(offset, offset + len(names)))
        if committed is False:
            aborted.append((pid, offset))
        offset += len(names)
        if committed is not None:
            raw += _control_marker(offset, pid, committed)
            offset += 1
    records = fetcher.PartitionRecords(
        TopicPartition("t", 0),
        fetcher.MemoryRecords(raw),
        aborted if read_committed else [],
        0,
        None,
        None,
        True,
        fetcher.READ_COMMITTED if read_committed else fetcher.READ_UNCOMMITTED,
    )
    consumed_records = list(records)
    assert [record.offset for record in consumed_records] == expected
    assert [record.value for record in consumed_records] == [b"v%d" % n for n in expected]
    assert records.next_fetch_offset == offset
