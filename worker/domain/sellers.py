"""Sellers registered by id (docs/contract.md, "Many sellers in one worker"): the party an
invoice's documents show, and the defaults its invoices take."""

from __future__ import annotations

from dataclasses import dataclass

from worker.domain.parties import Seller


@dataclass(frozen=True, slots=True)
class RegisteredSeller:
    seller_id: str
    seller: Seller
    payment_terms_days: int | None = None
    """Payment terms where the order states none; None: the configured ones."""
    invoice_number_prefix: str = "INV"
    credit_note_number_prefix: str = "CN"
