"""Every document of a closed invoice, or why one cannot be made: a pure function of the
stored invoice, run in a process of its own (worker.render_jobs)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from worker.documents.cii import cii_xml
from worker.documents.content import unavailable_reason
from worker.documents.labels import document_language
from worker.documents.pdf import invoice_pdf
from worker.documents.ubl import ubl_xml
from worker.domain.lifecycle import Invoice

MEDIA_TYPES = {"pdf": "application/pdf", "ubl": "application/xml"}


@dataclass(frozen=True, slots=True)
class RenderedDocument:
    kind: str
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
class UnavailableDocument:
    kind: str
    reason: str


@dataclass(frozen=True, slots=True)
class RenderedDocuments:
    documents: tuple[RenderedDocument, ...]
    unavailable: tuple[UnavailableDocument, ...]


def render_documents(
    invoice: Invoice, reference_number: str | None, default_language: str
) -> RenderedDocuments:
    """The PDF (Factur-X when EN 16931 can express the invoice) and the UBL, in the
    customer's language or `default_language`; the same invoice always gives the same
    bytes. `reference_number` is the number of a credit note's invoice."""
    language = document_language(invoice.customer.get("language"), default_language)
    reason = unavailable_reason(invoice)
    if reason is not None:
        return RenderedDocuments(
            (RenderedDocument("pdf", invoice_pdf(invoice, reference_number, language, None)),),
            (UnavailableDocument("ubl", reason),),
        )
    cii = cii_xml(invoice, reference_number)
    return RenderedDocuments(
        (
            RenderedDocument("pdf", invoice_pdf(invoice, reference_number, language, cii)),
            RenderedDocument("ubl", ubl_xml(invoice, reference_number)),
        ),
        (),
    )
