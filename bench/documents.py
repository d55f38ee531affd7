"""`python -m bench.documents`: documents rendered per second on one core.

Renders closed invoices the way the renderer does (one process: the figure is per core;
the renderer runs INVOICER_RENDERER_PROCESSES of them), each into its Factur-X PDF and its
UBL, and prints invoices/s and documents/s for a few invoice sizes. Time is the process's
CPU time, so that a core shared with other work does not lower the figure.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import time
from datetime import UTC, date, datetime
from decimal import Decimal

from worker.documents.render import render_documents
from worker.domain.amounts import TaxTreatment
from worker.domain.invoice import OrderRow, build_invoice_content
from worker.domain.lifecycle import Invoice, InvoiceStatus, InvoiceType, number_invoice
from worker.domain.parties import Address, Customer, Seller

SELLER = Seller(
    name="Bakkerij de Molen B.V.",
    vat_id="NL123456789B01",
    address=Address(line1="Molenstraat 1", city="Utrecht", postal_code="3511 AA", country="NL"),
    iban="NL91ABNA0417164300",
)
CUSTOMER = Customer("Müller Backwaren GmbH", billing_address=Address(city="Köln", country="DE"))


def invoice(lines: int, serial: int) -> Invoice:
    rows = [
        OrderRow(
            f"r{index}",
            index,
            f"SKU-{index}",
            f"Item {index}",
            Decimal(index % 7 + 1),
            "pcs",
            Decimal("12.50"),
            Decimal(0),
            Decimal("21" if index % 3 else "9"),
            TaxTreatment("S"),
        )
        for index in range(lines)
    ]
    draft = Invoice(
        invoice_id=f"00000000-0000-0000-0000-{serial:012d}",
        order_id=f"SO-{serial}",
        type=InvoiceType.INVOICE,
        order_code=None,
        currency="EUR",
        prices_include_tax=False,
        customer=CUSTOMER,
        content=build_invoice_content(rows, "EUR", prices_include_tax=False),
        payment_terms_days=14,
        status=InvoiceStatus.OPEN,
        seller=SELLER,
    )
    closed_at = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    return number_invoice(draft, f"INV-2026-{serial:06d}", closed_at, date(2026, 11, 30))


def measure(lines: int, count: int) -> tuple[float, float]:
    """(invoices/s, documents/s) rendering `count` invoices of `lines` lines."""
    render_documents(invoice(lines, 0), None, "en")  # fonts, code lists: loaded once
    invoices = [invoice(lines, serial) for serial in range(1, count + 1)]
    started = time.process_time()
    documents = sum(len(render_documents(i, None, "en").documents) for i in invoices)
    elapsed = time.process_time() - started
    return count / elapsed, documents / elapsed


def profile(lines: int, count: int) -> None:
    """cProfile of rendering `count` invoices of `lines` lines: the 40 functions that took
    longest, their calls included (the profiler slows calls down, the small ones most)."""
    render_documents(invoice(lines, 0), None, "en")
    invoices = [invoice(lines, serial) for serial in range(1, count + 1)]
    with cProfile.Profile() as profiler:
        for each in invoices:
            render_documents(each, None, "en")
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(40)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=20, help="invoices per size")
    parser.add_argument(
        "--profile", type=int, metavar="LINES", help="profile invoices of LINES lines instead"
    )
    args = parser.parse_args()
    if args.profile is not None:
        profile(args.profile, args.count)
        return
    print(f"{'lines':>6} {'invoices/s':>11} {'documents/s':>12}  (one core)")
    for lines in (1, 5, 10, 100):
        per_second, documents_per_second = measure(lines, args.count)
        print(f"{lines:>6} {per_second:>11.1f} {documents_per_second:>12.1f}")


if __name__ == "__main__":
    main()
