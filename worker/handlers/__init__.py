"""One handler per incoming message type and command action: it reads the batch's View and
returns a Decision (worker.decisions). ROUTES is the one registry of both, and of what each
needs loaded before the batch is decided.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from worker.decisions import Decision, Record, View
from worker.handlers import commands
from worker.handlers.orders import handle_order_completed
from worker.handlers.returns import handle_order_returned
from worker.handlers.sellers import handle_seller_updated
from worker.messages import (
    CloseInvoice,
    CreateInvoice,
    DeleteInvoice,
    InvoiceCommandData,
    OrderCompleted,
    OrderReturned,
    RecordPayment,
    RefundPayment,
    SellerUpdated,
    SendInvoice,
    UpdateInvoice,
    VoidInvoice,
)


@dataclass(frozen=True, slots=True)
class Needs:
    """What a record's handler reads, loaded (and its orders locked) for the whole batch."""

    orders: tuple[str, ...] = ()
    """Orders, with their rows and which rows are held, but not their invoices."""
    orders_with_invoices: tuple[str, ...] = ()
    invoices: tuple[str, ...] = ()
    """Invoices by id: their orders are loaded with all their invoices."""
    sellers: tuple[str, ...] = ()
    """Registered sellers by id."""


@dataclass(frozen=True, slots=True)
class Route:
    handle: Callable[[View, Record, Any], Decision]
    needs: Callable[[Any], Needs]


def _order_needs(data: OrderCompleted) -> Needs:
    return Needs(orders=(data.order_id,), sellers=_named(data.seller_id))


def _named(seller_id: str | None) -> tuple[str, ...]:
    return () if seller_id is None else (seller_id,)


def _seller_needs(data: SellerUpdated) -> Needs:
    return Needs(sellers=(data.seller_id,))


def _return_needs(data: OrderReturned) -> Needs:
    return Needs(orders_with_invoices=(data.order_id,))


def _create_needs(command: CreateInvoice) -> Needs:
    return Needs(orders_with_invoices=(command.order_id,), sellers=_named(command.seller_id))


def _action_needs(command: InvoiceCommandData) -> Needs:
    invoice_id = command.target_invoice_id
    return Needs(invoices=() if invoice_id is None else (invoice_id,))


ROUTES: Mapping[type[BaseModel], Route] = {
    OrderCompleted: Route(handle_order_completed, _order_needs),
    OrderReturned: Route(handle_order_returned, _return_needs),
    SellerUpdated: Route(handle_seller_updated, _seller_needs),
    CreateInvoice: Route(commands.command_handler(commands.create), _create_needs),
    UpdateInvoice: Route(commands.command_handler(commands.update), _action_needs),
    DeleteInvoice: Route(commands.command_handler(commands.delete), _action_needs),
    CloseInvoice: Route(commands.command_handler(commands.close), _action_needs),
    SendInvoice: Route(commands.command_handler(commands.send), _action_needs),
    VoidInvoice: Route(commands.command_handler(commands.void), _action_needs),
    RecordPayment: Route(commands.command_handler(commands.pay), _action_needs),
    RefundPayment: Route(commands.command_handler(commands.refund), _action_needs),
}
"""The handler of each incoming event's data model (an order, or a command's action)."""
