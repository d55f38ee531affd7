"""What a new invoice or credit note of an order is made of, and the notification its
closing sends to the customer: shared by the order, the `create` command and a return."""

from __future__ import annotations

from datetime import date

import structlog

from worker.decisions import View
from worker.domain.customer import address_for
from worker.domain.invoice import InvoiceContent
from worker.domain.lifecycle import Change, Invoice, InvoiceType, NotificationRequested
from worker.domain.order import Order, OrderDetails
from worker.domain.parties import DEFAULT_SELLER_ID, Seller

log = structlog.get_logger(__name__)


def new_draft(
    view: View,
    invoice_id: str,
    order: Order,
    content: InvoiceContent,
    reference: Invoice | None,
    *,
    note: str | None = None,
    due: date | None = None,
    return_id: str | None = None,
    seller_id: str | None = None,
) -> Invoice:
    """A draft of the order: an invoice to the order's customer, from its seller (or
    `seller_id`) as it is now; or a credit note of `reference`, between that invoice's
    parties, for its order code and purchase, in its currency and tax mode (the order, or
    the seller, may have changed since). Its payment terms are those the order stated,
    else the seller's, else the configured ones."""
    stated: OrderDetails | Invoice = order.details if reference is None else reference
    issuer = (
        reference.seller_id
        if reference is not None
        else seller_id or order.details.seller_id or _default_seller_id(view)
    )
    registered = None if issuer is None else view.seller(issuer)
    return Invoice(
        invoice_id=invoice_id,
        order_id=order.order_id,
        type=InvoiceType.INVOICE if reference is None else InvoiceType.CREDIT_NOTE,
        order_code=stated.order_code,
        currency=stated.currency,
        prices_include_tax=stated.prices_include_tax,
        customer=stated.customer,
        content=content,
        payment_terms_days=_first_stated(
            order.details.payment_terms_days,
            None if registered is None else registered.payment_terms_days,
            view.settings.payment_terms_days,
        ),
        reference_invoice_id=None if reference is None else reference.invoice_id,
        return_id=return_id,
        note=note,
        due_date=due,
        purchase=stated.purchase,
        seller_id=issuer,
        seller=reference.seller if reference is not None else _party(view, issuer),
    )


def _first_stated(*values: int | None) -> int:
    return next(value for value in values if value is not None)


def _default_seller_id(view: View) -> str | None:
    return DEFAULT_SELLER_ID if view.settings.seller.configured else None


def _party(view: View, seller_id: str | None) -> Seller | None:
    """The issuing seller as it is now: the configured one, or a registered one."""
    if seller_id is None:
        return None
    if seller_id == DEFAULT_SELLER_ID:
        return view.settings.seller.as_seller()
    registered = view.seller(seller_id)
    return None if registered is None else registered.seller


class UnknownSeller(Exception):
    """A seller id no seller-updated registered, or "default" without a configured seller."""

    def __init__(self, seller_id: str) -> None:
        super().__init__(f"unknown seller {seller_id!r}")
        self.seller_id = seller_id


def issuing_seller(view: View, stated: str | None) -> str | None:
    """Who issues an order's invoices: the stated seller, else the configured one
    ("default") when there is one, else none. Raises UnknownSeller for a stated seller that
    is not registered."""
    if stated is None:
        return _default_seller_id(view)
    if _party(view, stated) is None:
        raise UnknownSeller(stated)
    return stated


def notified(change: Change, delivery: str) -> Change:
    """A close followed by the automatic notification of what it closed, by the order's
    `delivery`, to the customer's address for it; none with "none", or without an address.
    A credit note's tells what is due and owed back on the invoice it credits."""
    if delivery == "none":
        return change
    closed = change.invoice
    address = address_for(closed.customer, delivery)
    if address is None:
        log.info("no address for the notification channel", action="notify", channel=delivery)
        return change
    notification = NotificationRequested(
        closed, delivery, address, "auto", (closed.invoice_id,), credited=change.credited
    )
    return Change(change.invoices, (*change.facts, notification))
