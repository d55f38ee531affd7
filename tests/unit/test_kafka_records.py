"""A fetched record whose header name is not UTF-8 reaches the worker instead of stalling its
partition (worker/kafka_records.py), read through aiokafka's own fetcher classes."""

from __future__ import annotations

from typing import Any

import aiokafka.consumer.fetcher as fetcher
import pytest
from aiokafka.record.default_records import _DefaultRecordBatchBuilderPy
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
