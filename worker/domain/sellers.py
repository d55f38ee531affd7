"""Sellers registered by id (docs/contract.md, "Many sellers in one worker"): the party an
invoice's documents show, and the defaults its invoices take."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from worker.domain.parties import Seller


@dataclass(frozen=True, slots=True)
class RegisteredSeller:
    seller_id: str
    seller: Seller
    payment_terms_days: int | None = None
    """Payment terms where the order states none; None: the configured ones."""
    invoice_number_prefix: str = "INV"
    credit_note_number_prefix: str = "CN"
    invoice_prefixes: frozenset[str] = field(default_factory=frozenset)
    """Every prefix its invoices have had (besides the one they have now)."""
    credit_note_prefixes: frozenset[str] = field(default_factory=frozenset)
    """Every prefix its credit notes have had (besides the one they have now)."""

    def prefixes_of(self) -> tuple[frozenset[str], frozenset[str]]:
        """Every prefix its invoices, and its credit notes, have had, the present ones too."""
        return (
            self.invoice_prefixes | {self.invoice_number_prefix},
            self.credit_note_prefixes | {self.credit_note_number_prefix},
        )

    def after(self, before: RegisteredSeller | None) -> RegisteredSeller:
        """This registration of the seller, with the prefixes it had `before`."""
        if before is None:
            return self
        invoices, credit_notes = before.prefixes_of()
        return replace(
            self,
            invoice_prefixes=(self.invoice_prefixes | invoices) - {self.invoice_number_prefix},
            credit_note_prefixes=(self.credit_note_prefixes | credit_notes)
            - {self.credit_note_number_prefix},
        )

    def shared_prefix(self, before: RegisteredSeller | None = None) -> str | None:
        """A prefix both its invoices and its credit notes have had, and that they did not
        share `before` (a seller stored so before such sellers were refused is not kept from
        changing): the two series, each continuing under any prefix, would give the same
        number twice."""
        invoices, credit_notes = self.prefixes_of()
        shared = invoices & credit_notes
        if before is not None:
            had_invoices, had_credit_notes = before.prefixes_of()
            shared -= had_invoices & had_credit_notes
        return min(shared) if shared else None
