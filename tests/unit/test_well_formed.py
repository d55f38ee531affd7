"""The read API's parameters are text (docs/contract.md, "The door"): a request target whose
path or query parameter is not percent-encoded UTF-8 text the rule accepts is refused naming
that parameter, whatever its bytes; one that is, is let through."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.text_rule import is_text_parameter, percent_decoded
from worker.api.problems import BadParameter
from worker.api.well_formed import check_header, check_target, parameter_name

ANY_CHARACTER = st.characters() | st.characters(categories=["Cc", "Cs", "Zl", "Zp", "Cn"])
"""Lone surrogates and controls too (hypothesis leaves surrogates out by default)."""
ROUTE = "/v1/invoices/{invoiceId}/{kind:pdf|ubl}"
ASCII_IN_A_TARGET = "".join(chr(c) for c in range(0x21, 0x7F) if chr(c) not in "/?#&=")

_escape = st.binary(min_size=1, max_size=4).map(lambda b: "".join(f"%{x:02X}" for x in b))
_text_escape = st.text(min_size=1, max_size=3).map(
    lambda t: "".join(f"%{x:02x}" for x in t.encode("utf-8", "surrogatepass"))
)
_part = st.lists(
    st.one_of(
        st.text(ASCII_IN_A_TARGET, min_size=1, max_size=4),
        _escape,
        _text_escape,
        st.sampled_from(["%", "%0", "%g0", "+", "%00", "%ED%A0%80", "%EF%BF%BE"]),
    ),
    max_size=4,
).map("".join)


@settings(max_examples=400)
@given(
    segment=_part.filter(bool),
    query=st.lists(st.tuples(_part, _part), max_size=4),
)
def test_a_parameter_is_refused_by_name_exactly_when_it_is_not_text(
    segment: str, query: list[tuple[str, str]]
) -> None:
    path = f"/v1/invoices/{segment}/pdf"
    query_string = "&".join(f"{name}={value}" for name, value in query)
    expected: str | None = None
    if not is_text_parameter(segment.encode(), form=False):
        expected = "invoiceId"
    else:
        for name, value in query:
            if not is_text_parameter(name.encode(), form=True):
                expected = "*"
                break
            if not is_text_parameter(value.encode(), form=True):
                decoded = percent_decoded(name.encode(), form=True)
                assert decoded is not None
                expected = parameter_name(decoded.decode())
                break
    if expected is None:
        check_target(path, query_string, ROUTE)
        return
    with pytest.raises(BadParameter) as refused:
        check_target(path, query_string, ROUTE)
    assert expected in ("*", refused.value.parameter)
    assert len(refused.value.parameter) <= 64
    assert refused.value.parameter.isprintable()


@given(st.text(alphabet=ANY_CHARACTER))
def test_a_parameter_is_named_printable_and_at_most_64_characters(text: str) -> None:
    name = parameter_name(text)
    assert name.isprintable() and len(name) <= 64
    if text.isprintable() and len(text) <= 64:
        assert name == text


def test_a_header_parameter_that_is_not_utf8_is_refused_by_name() -> None:
    check_header("If-None-Match", '"abc", W/"déf"')
    check_header("If-None-Match", None)
    for value in ('"\udcff"', "a\x00", "\ufffe"):
        with pytest.raises(BadParameter) as refused:
            check_header("If-None-Match", value)
        assert refused.value.parameter == "If-None-Match"
