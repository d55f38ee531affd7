"""A setting's text follows the door's rule (docs/contract.md, "The door"): a character that XML
cannot carry is refused at start, naming the setting, not when the first document fails."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from worker.settings import SellerSettings, Settings

REFUSED = st.sampled_from(["\x01", "\x0b", "\x0c", "\x1f", "\ufffe", "\uffff", "\udc80"])
TEXT_SETTINGS = ("event_source", "group_id", "invoice_number_prefix", "kafka_bootstrap_servers")
SELLER_TEXTS = ("name", "address_line1", "city", "postal_code", "registration_id")
SELLER = {
    "name": "Ada GmbH",
    "vat_id": "DE123456789",
    "address_line1": "Hauptstr. 1",
    "city": "Berlin",
    "postal_code": "10115",
    "country": "DE",
}


@given(field=st.sampled_from(TEXT_SETTINGS), character=REFUSED)
def test_a_setting_with_a_refused_character_is_refused(field: str, character: str) -> None:
    with pytest.raises(ValidationError) as refused:
        Settings.model_validate({field: f"in{character}valid"})
    assert [error["loc"] for error in refused.value.errors()] == [(field,)]


@given(field=st.sampled_from(SELLER_TEXTS), character=REFUSED)
def test_a_seller_with_a_refused_character_is_refused(field: str, character: str) -> None:
    with pytest.raises(ValidationError) as refused:
        SellerSettings.model_validate({**SELLER, field: f"Ada{character}"})
    assert [error["loc"] for error in refused.value.errors()] == [(field,)]


def test_tabs_line_feeds_and_every_other_character_are_accepted() -> None:
    seller = SellerSettings.model_validate({**SELLER, "name": "Ada\tGmbH\n\u00e9\u4e2d\U0001f600"})
    assert seller.name == "Ada\tGmbH\n\u00e9\u4e2d\U0001f600"
