"""What an order's `allowances` and `charges` must be (docs/contract.md, "Order-level charges
and allowances"): each field refused where it is wrong, the whole message dead-lettered."""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.test_messages import order_data, record, rejected
from worker.messages import OrderCompletedEvent, parse_event

VOUCHER = {"allowanceId": "v", "reason": "Voucher", "amount": "5.00"}
SHIPPING = {"chargeId": "s", "reason": "Shipping", "amount": "4.90", "taxRate": "19"}


def errors_of(**data: Any) -> dict[str, list[str]]:
    return rejected(record(order_data(**data))).errors


def test_an_order_with_a_voucher_and_shipping_is_read_with_both() -> None:
    event = parse_event(record(order_data(allowances=[VOUCHER], charges=[SHIPPING])))

    assert isinstance(event, OrderCompletedEvent)
    [voucher, shipping] = event.data.adjustments()
    assert (voucher.adjustment_id, voucher.tax_rate, voucher.treatment) == ("v", None, None)
    assert (shipping.adjustment_id, str(shipping.tax_rate)) == ("s", "19")
    assert shipping.treatment is not None and shipping.treatment.category == "S"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("amount", "0"),
        ("amount", "-1.00"),
        ("amount", "1.001"),
        ("reason", ""),
        ("reason", "x" * 201),
        ("taxRate", "101"),
        ("reasonCode", "FC"),  # a charge's code on an allowance
        ("allowanceId", ""),
    ],
)
def test_a_wrong_allowance_field_is_refused_at_its_place(field: str, value: str) -> None:
    errors = errors_of(allowances=[VOUCHER, {**VOUCHER, "allowanceId": "w", field: value}])

    assert list(errors) == [f"allowances.1.{field}"]


def test_a_charge_reason_code_must_be_one_en16931_allows() -> None:
    assert list(errors_of(charges=[{**SHIPPING, "reasonCode": "95"}])) == ["charges.0.reasonCode"]
    assert isinstance(
        parse_event(record(order_data(charges=[{**SHIPPING, "reasonCode": "FC"}]))),
        OrderCompletedEvent,
    )


def test_ids_are_unique_within_their_list_only() -> None:
    assert errors_of(charges=[SHIPPING, SHIPPING]) == {
        "charges.1.chargeId": ["duplicate chargeId 's'"]
    }
    same_id = parse_event(
        record(order_data(allowances=[{**VOUCHER, "allowanceId": "s"}], charges=[SHIPPING]))
    )
    assert isinstance(same_id, OrderCompletedEvent)


def test_a_category_without_a_rate_is_refused() -> None:
    errors = errors_of(allowances=[{**VOUCHER, "taxCategory": "E"}])

    assert list(errors) == ["allowances.0.taxCategory"]


def test_a_rated_charge_follows_the_rows_category_rules() -> None:
    errors = errors_of(charges=[{**SHIPPING, "taxRate": "0", "taxCategory": "E"}])

    assert list(errors) == ["charges.0.taxExemptionReason"]


def test_at_most_100_of_each() -> None:
    many = [{**VOUCHER, "allowanceId": str(n)} for n in range(101)]

    assert list(errors_of(allowances=many)) == ["allowances"]
    assert isinstance(parse_event(record(order_data(allowances=many[:100]))), OrderCompletedEvent)
