"""The read API's cursor comes back from outside: anything but a cursor the API made is a
400 naming `after`, never a database error."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from worker.api import cursor
from worker.api.problems import BadParameter
from worker.store.reads import InvoiceFilter, Position

EVERYTHING = InvoiceFilter(None, None, None)
MADE = Position(
    "100:105:101,103", datetime(2026, 11, 30, tzinfo=UTC), "6be81c99-b0bf-59a3-b5f5-d87ea4279c51"
)


def forged(**changes: object) -> str:
    fields = json.loads(base64.urlsafe_b64decode(cursor.encode(MADE, EVERYTHING) + "=="))
    return base64.urlsafe_b64encode(json.dumps({**fields, **changes}).encode()).decode()


def test_a_cursor_the_api_made_reads_back() -> None:
    assert cursor.decode(cursor.encode(MADE, EVERYTHING), EVERYTHING) == MADE


@pytest.mark.parametrize(
    "snapshot", ["0:0:", "105:100:", "100:105:104,101", "100:105:99", "100:105:105", f"1:{2**64}:"]
)
def test_a_snapshot_postgresql_would_refuse_is_a_bad_cursor(snapshot: str) -> None:
    with pytest.raises(BadParameter) as refused:
        cursor.decode(forged(snapshot=snapshot), EVERYTHING)
    assert refused.value.parameter == "after"


def test_a_moment_beyond_the_calendar_is_a_bad_cursor() -> None:
    with pytest.raises(BadParameter):
        cursor.decode(forged(created_at="0001-01-01T00:00:00+14:00"), EVERYTHING)


_DIGITS = st.one_of(
    st.text(alphabet="0123456789", min_size=1, max_size=20),
    st.integers(min_value=20, max_value=6000).map(lambda length: "1" * length),
)


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(xmin=_DIGITS, xmax=_DIGITS, in_progress=st.lists(_DIGITS, max_size=3))
def test_a_snapshot_of_any_digits_is_a_cursor_or_a_bad_one(
    xmin: str, xmax: str, in_progress: list[str]
) -> None:
    """Numbers longer than Python reads from text (4300 digits) fit in a URL's 8 KB."""
    snapshot = f"{xmin}:{xmax}:{','.join(in_progress)}"
    try:
        position = cursor.decode(forged(snapshot=snapshot), EVERYTHING)
    except BadParameter as refused:
        assert refused.parameter == "after"
    else:
        assert position.snapshot == snapshot


def test_a_cursor_of_one_sellers_list_is_refused_for_another_list() -> None:
    of_b = cursor.encode(MADE, InvoiceFilter(seller_id="seller-b"))
    assert cursor.decode(of_b, InvoiceFilter(seller_id="seller-b")) == MADE
    for other in (EVERYTHING, InvoiceFilter(seller_id="seller-a")):
        with pytest.raises(BadParameter) as refused:
            cursor.decode(of_b, other)
        assert refused.value.parameter == "after"
    with pytest.raises(BadParameter):
        cursor.decode(cursor.encode(MADE, EVERYTHING), InvoiceFilter(seller_id="seller-b"))
