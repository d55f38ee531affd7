"""Every document of a closed invoice, or why one cannot be made: a pure function of the
stored invoice, run in a process of its own (worker.render_jobs)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

from worker.documents.cii import cii_xml
from worker.documents.labels import DocumentLanguage, document_language
from worker.documents.pdf import invoice_pdf
from worker.documents.ubl import ubl_xml
from worker.domain.en16931 import unavailable_reason
from worker.domain.lifecycle import Invoice
from worker.messages.outgoing import DocumentKind
from worker.settings import DocumentFonts

MEDIA_TYPES: dict[DocumentKind, str] = {"pdf": "application/pdf", "ubl": "application/xml"}


@dataclass(frozen=True, slots=True)
class RenderedDocument:
    kind: DocumentKind
    content: bytes

    @property
    def media_type(self) -> str:
        return MEDIA_TYPES[self.kind]

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()

    @property
    def size(self) -> int:
        return len(self.content)


@dataclass(frozen=True, slots=True)
class UnrenderableDocument:
    """A document the invoice cannot have, and why: the contract's `unavailable`."""

    kind: DocumentKind
    reason: str


@dataclass(frozen=True, slots=True)
class RenderedDocuments:
    documents: tuple[RenderedDocument, ...]
    unavailable: tuple[UnrenderableDocument, ...]


def render_documents(
    invoice: Invoice,
    reference_number: str | None,
    default_language: DocumentLanguage,
    fallback_fonts: Sequence[str] | None = None,
) -> RenderedDocuments:
    """The PDF (Factur-X when EN 16931 can express the invoice) and the UBL, in the
    customer's language or `default_language`; the same invoice always gives the same
    bytes. `reference_number` is the number of a credit note's invoice. `fallback_fonts`
    draw what the bundled fonts cannot (by default INVOICER_DOCUMENT_FONTS)."""
    seller_language = None if invoice.seller is None else invoice.seller.language
    language = document_language(
        invoice.customer.language, document_language(seller_language, default_language)
    )
    fonts = configured_fonts() if fallback_fonts is None else fallback_fonts
    reason = unavailable_reason(invoice)
    if reason is not None:
        pdf = invoice_pdf(invoice, reference_number, language, None, fonts)
        return RenderedDocuments(
            (RenderedDocument("pdf", pdf),), (UnrenderableDocument("ubl", reason),)
        )
    cii = cii_xml(invoice, reference_number)
    return RenderedDocuments(
        (
            RenderedDocument("pdf", invoice_pdf(invoice, reference_number, language, cii, fonts)),
            RenderedDocument("ubl", ubl_xml(invoice, reference_number)),
        ),
        (),
    )


@cache
def configured_fonts() -> tuple[str, ...]:
    """INVOICER_DOCUMENT_FONTS, read once per render process."""
    return tuple(str(path) for path in DocumentFonts().document_fonts)
