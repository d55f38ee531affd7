"""Charges and allowances as stored: an order's in `orders.adjustments`, an invoice's (with
their parts per tax group) in `invoices.adjustments`, both JSON."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from worker.domain.amounts import AdjustmentAmounts, AdjustmentPart, TaxTreatment
from worker.domain.invoice import Adjustment, AdjustmentKind, InvoiceContent
from worker.domain.money import plain


def _treatment_json(treatment: TaxTreatment | None) -> dict[str, Any]:
    if treatment is None:
        return {}
    return {
        "taxCategory": treatment.category,
        "taxExemptionReason": treatment.exemption_reason,
        "taxExemptionReasonCode": treatment.exemption_reason_code,
    }


def _treatment_from(stored: dict[str, Any]) -> TaxTreatment:
    return TaxTreatment(
        stored["taxCategory"], stored["taxExemptionReason"], stored["taxExemptionReasonCode"]
    )


def _treatment_of(stored: dict[str, Any]) -> TaxTreatment | None:
    """An adjustment's: None for one without a rate."""
    return _treatment_from(stored) if "taxCategory" in stored else None


def adjustment_json(adjustment: Adjustment) -> dict[str, Any]:
    return {
        "kind": adjustment.kind.value,
        "id": adjustment.adjustment_id,
        "reason": adjustment.reason,
        "amount": plain(adjustment.amount),
        "taxRate": None if adjustment.tax_rate is None else plain(adjustment.tax_rate),
        "reasonCode": adjustment.reason_code,
        "position": adjustment.position,
        **_treatment_json(adjustment.treatment),
    }


def adjustment_of(stored: dict[str, Any]) -> Adjustment:
    rate = stored["taxRate"]
    return Adjustment(
        kind=AdjustmentKind(stored["kind"]),
        adjustment_id=stored["id"],
        reason=stored["reason"],
        amount=Decimal(stored["amount"]),
        tax_rate=None if rate is None else Decimal(rate),
        treatment=_treatment_of(stored),
        reason_code=stored["reasonCode"],
        position=stored["position"],
    )


def adjustments_of(stored: Sequence[dict[str, Any]]) -> list[Adjustment]:
    return [adjustment_of(item) for item in stored]


def invoice_adjustments_json(content: InvoiceContent) -> list[dict[str, Any]]:
    """Each of the invoice's charges and allowances with its parts."""
    return [
        {
            **adjustment_json(adjustment),
            "parts": [
                {
                    "taxRate": plain(part.tax_rate),
                    "amount": plain(part.amount),
                    "netAmount": plain(part.net_amount),
                    **_treatment_json(part.treatment),
                }
                for part in amounts.parts
            ],
        }
        for adjustment, amounts in zip(
            content.adjustments, content.amounts.adjustments, strict=True
        )
    ]


def invoice_adjustments_of(
    stored: Sequence[dict[str, Any]],
) -> tuple[tuple[Adjustment, ...], tuple[AdjustmentAmounts, ...]]:
    """An invoice's charges and allowances, and their amounts (InvoiceContent's and
    InvoiceAmounts' `adjustments`)."""
    adjustments = tuple(adjustment_of(item) for item in stored)
    amounts = tuple(
        AdjustmentAmounts(
            adjustment.is_charge,
            tuple(
                AdjustmentPart(
                    Decimal(part["taxRate"]),
                    _treatment_from(part),
                    Decimal(part["amount"]),
                    Decimal(part["netAmount"]),
                )
                for part in item["parts"]
            ),
        )
        for adjustment, item in zip(adjustments, stored, strict=True)
    )
    return adjustments, amounts
