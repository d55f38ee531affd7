"""A reproducible stream of valid traffic, and everything it must lead to.

Orders come first (phase 1): 1-3 rows each, some with a later message adding rows, some
drafts (autoClose false), deliveries by email, sms and none, and about one event in ten
sent twice. Commands about the invoices phase 1 created come second (phase 2: commands
travel on another topic, so only then do they find their invoices): close the drafts
(some changed first) or delete them; on open invoices record a payment, or record one
and refund it (the refund told twice under two command ids), void, or credit them in full
(paid) or in part. Returns of some open invoices' rows come last (phase 3, on
orders.returned): each is credited at once, and notified like the order. Invoice ids,
event ids and notification ids are the contract's stable uuid5s, so every expected output
is known before a single record is sent.
"""

from __future__ import annotations

import json
import random
import uuid
from dataclasses import dataclass, field
from typing import Any

from tests.integration import flows
from worker.messages import stable_event_id

SOURCE = "/faults/shop"
COMMAND_SOURCE = "/faults/backoffice"

_TAX_RATES = ("0", "7", "9", "19", "21")
_QUANTITIES = ("1", "2", "3", "0.5", "1.250", "12")


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A record to publish: `kind` is "orders", "returns" or "commands" (the test maps it to
    a topic)."""

    kind: str
    key: bytes
    value: bytes | None
    event_id: str


@dataclass(slots=True)
class ExpectedInvoice:
    invoice_id: str
    order_id: str
    currency: str
    row_ids: tuple[str, ...]
    status: str
    """What it ends as: "draft", "open", "paid", "void" or "deleted"."""
    announced_as_draft: bool
    """An invoice-created event is due (it was a draft when it was created)."""
    notification_id: str | None
    """The automatic notification's id, when one is due."""
    channel: str | None = None
    """Where the order's closed invoices and credit notes are sent: None with delivery
    "none", or without an address for it."""
    quantities: dict[str, str] = field(default_factory=dict)
    """Each row's quantity, by row id."""
    credit_note: bool = False

    @property
    def numbered(self) -> bool:
        return self.status not in ("draft", "deleted")

    @property
    def holds_rows(self) -> bool:
        return self.status not in ("void", "deleted")


@dataclass(slots=True)
class Stream:
    phases: list[list[Outgoing]]
    invoices: dict[str, ExpectedInvoice] = field(default_factory=dict)
    order_rows: dict[str, set[str]] = field(default_factory=dict)
    applied: set[tuple[str, str]] = field(default_factory=set)
    """(source, id) of every event that must end as applied in the inbox."""
    commands: dict[str, str] = field(default_factory=dict)
    """Command id → action; each must get exactly one result, ok."""
    checked_elsewhere: set[str] = field(default_factory=set)
    """Ids of commands sent besides the stream's, whose results a test checks itself."""

    @property
    def records(self) -> list[Outgoing]:
        return [record for phase in self.phases for record in phase]


def order_event(
    event_id: str, order_id: str, rows: list[dict[str, Any]], **data: Any
) -> dict[str, Any]:
    data.setdefault("customer", {"name": "Faults Customer", "email": "faults@example.com"})
    return flows.order_event(order_id, rows, event_id=event_id, source=SOURCE, **data)


def command_event(command_id: str, order_id: str | None, **data: Any) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": command_id,
        "source": COMMAND_SOURCE,
        "type": "invoice-command",
        "time": "2026-11-23T11:00:00Z",
        "datacontenttype": "application/json",
        "data": {**({"orderId": order_id} if order_id else {}), **data},
    }


def inbox_keys(records: list[Outgoing]) -> set[tuple[str, str]]:
    """(source, id) of each record, as the inbox keeps it."""
    return {(json.loads(record.value or b"")["source"], record.event_id) for record in records}


def encode(event: dict[str, Any]) -> bytes:
    return json.dumps(event).encode()


FAULT_SELLERS = {"merchant-a": "MA", "merchant-b": "MB"}
"""The sellers every stack registers (by id, with its invoice number prefix): a third of
the orders are each one's."""


class _Builder:
    def __init__(self, seed: int, run: str) -> None:
        self.random = random.Random(seed)
        self.run = run
        self.stream = Stream(phases=[[], []])
        self._ids = 0

    def new_id(self) -> str:
        self._ids += 1
        return str(uuid.UUID(int=self.random.getrandbits(128), version=4))

    def row(self, row_id: str, currency: str) -> dict[str, Any]:
        cents = self.random.randint(100, 50_000)
        price = str(cents // 100) if currency == "JPY" else f"{cents // 100}.{cents % 100:02d}"
        return {
            "rowId": row_id,
            "name": f"Item {row_id}",
            "quantity": self.random.choice(_QUANTITIES),
            "unitPrice": price,
            "taxRate": self.random.choice(_TAX_RATES),
        }

    def order(self, index: int) -> list[Outgoing]:
        """The messages of one order, in the order they are sent."""
        rnd = self.random
        order_id = f"{self.run}-{index:05d}"
        currency = rnd.choice(("EUR", "EUR", "EUR", "JPY", "USD"))
        delivery = rnd.choices(("email", "sms", "none"), weights=(70, 15, 15))[0]
        auto_close = rnd.random() > 0.05
        customer = {"name": f"Customer {index}", "email": f"c{index}@example.com"}
        # About a third each: the configured seller's, and each registered seller's
        seller = rnd.choice((None, *FAULT_SELLERS))
        if rnd.random() < 0.5:
            customer["phone"] = f"+31612{index:06d}"
        rows: list[dict[str, Any]] = []
        messages = []
        for message_no in range(2 if rnd.random() < 0.2 else 1):
            new_rows = [
                self.row(f"r{len(rows) + n + 1}", currency) for n in range(rnd.randint(1, 3))
            ]
            # A later message repeats the known rows unchanged, or only brings the new ones.
            sent_rows = [*rows, *new_rows] if rnd.random() < 0.5 else new_rows
            rows.extend(new_rows)
            event_id = self.new_id()
            event = order_event(
                event_id,
                order_id,
                sent_rows,
                currency=currency,
                customer=customer,
                invoicing={"autoClose": auto_close or message_no > 0, "delivery": delivery},
                **({} if seller is None else {"sellerId": seller}),
            )
            expect_order_message(self.stream, event, [row["rowId"] for row in new_rows])
            messages.append(Outgoing("orders", order_id.encode(), encode(event), event_id))
        return messages

    def commands(self) -> list[Outgoing]:
        """Phase 2: close or delete every draft; pay, refund, void or credit open ones. Each
        command is about an invoice of phase 1 and leaves something to pay or pays it all,
        so every one is ok."""
        commands = []
        for invoice in list(self.stream.invoices.values()):
            draw = self.random.random()
            smallest = "1" if invoice.currency == "JPY" else "0.01"  # no more than is due
            if invoice.status == "draft":
                if draw < 0.25:
                    commands.append(self.command(invoice, "delete", {}))
                    invoice.status = "deleted"
                    continue
                if draw < 0.6:
                    commands.append(self.command(invoice, "update", {"note": "changed"}))
                commands.append(self.command(invoice, "close", {}))
                invoice.status = "open"
            elif draw < 0.15:
                commands.append(self.command(invoice, "record-payment", {"amount": smallest}))
            elif draw < 0.25:
                commands.append(self.command(invoice, "void", {"reason": "fault test"}))
                invoice.status = "void"
            elif draw < 0.32:
                payment = {"paymentId": f"pay-{invoice.invoice_id}", "amount": smallest}
                commands.append(
                    self.command(
                        invoice, "record-payment", {**payment, "currency": invoice.currency}
                    )
                )
                # the same refund told twice, under two command ids: given back once
                refund = {**payment, "refundId": f"refund-{invoice.invoice_id}"}
                commands.append(self.command(invoice, "refund-payment", refund))
                commands.append(self.command(invoice, "refund-payment", refund))
            elif draw < 0.40:
                commands.append(self.credit_note(invoice, list(invoice.row_ids)))
                invoice.status = "paid"
            elif draw < 0.46 and len(invoice.row_ids) > 1:
                commands.append(self.credit_note(invoice, [invoice.row_ids[0]]))
            elif draw < 0.54 and len(invoice.row_ids) > 1:
                commands.append(self.order_return(invoice, invoice.row_ids[0]))
        return commands

    def order_return(self, invoice: ExpectedInvoice, row_id: str) -> Outgoing:
        """All of one row of the invoice given back: a credit note closed at once, sent as
        the order's invoices are; the invoice keeps its other rows to pay."""
        event_id = self.new_id()
        event = flows.order_returned(
            invoice.order_id,
            [(row_id, invoice.quantities[row_id])],
            return_id=f"ret-{event_id}",
            event_id=event_id,
            source=SOURCE,
        )
        self.stream.applied.add((SOURCE, event_id))
        note_id = stable_event_id("credit-note", SOURCE, event_id, invoice.invoice_id)
        self.expect_credit_note(
            note_id,
            invoice,
            None
            if invoice.channel is None
            else stable_event_id("notification", note_id, invoice.channel, note_id),
        )
        return Outgoing("returns", invoice.order_id.encode(), encode(event), event_id)

    def credit_note(self, invoice: ExpectedInvoice, row_ids: list[str]) -> Outgoing:
        """A credit note of these lines of the invoice, closed at once."""
        fields = {"type": "credit-note", "referenceInvoiceId": invoice.invoice_id}
        command_id = self.new_id()
        event = command_event(
            command_id, invoice.order_id, action="create", rowIds=row_ids, close=True, **fields
        )
        self.stream.commands[command_id] = "create"
        self.stream.applied.add((COMMAND_SOURCE, command_id))
        self.expect_credit_note(stable_event_id("invoice", COMMAND_SOURCE, command_id), invoice)
        return Outgoing("commands", invoice.order_id.encode(), encode(event), command_id)

    def expect_credit_note(
        self, note_id: str, invoice: ExpectedInvoice, notification_id: str | None = None
    ) -> None:
        """A credit note of the invoice, closed at once; notified when `notification_id`."""
        self.stream.invoices[note_id] = ExpectedInvoice(
            invoice_id=note_id,
            order_id=invoice.order_id,
            currency=invoice.currency,
            row_ids=(),
            status="open",
            announced_as_draft=False,
            notification_id=notification_id,
            credit_note=True,
        )

    def command(self, invoice: ExpectedInvoice, action: str, fields: dict[str, Any]) -> Outgoing:
        command_id = self.new_id()
        event = command_event(
            command_id, invoice.order_id, action=action, invoiceId=invoice.invoice_id, **fields
        )
        self.stream.commands[command_id] = action
        self.stream.applied.add((COMMAND_SOURCE, command_id))
        return Outgoing("commands", invoice.order_id.encode(), encode(event), command_id)


def expect_order_message(stream: Stream, event: dict[str, Any], new_row_ids: list[str]) -> None:
    """Registers what a valid order-completed event must lead to: its new rows on one new
    invoice, closed (and notified) or a draft, per its `invoicing`."""
    data = event["data"]
    invoicing = {"autoClose": True, "delivery": "email", **data.get("invoicing", {})}
    invoice_id = stable_event_id("invoice", event["source"], event["id"])
    closed = invoicing["autoClose"]
    channel = invoicing["delivery"]
    customer = data["customer"]
    address = {"email": customer.get("email"), "sms": customer.get("phone")}.get(channel)
    quantities = {row["rowId"]: row["quantity"] for row in data["rows"]}
    stream.invoices[invoice_id] = ExpectedInvoice(
        invoice_id=invoice_id,
        order_id=data["orderId"],
        currency=data["currency"],
        row_ids=tuple(new_row_ids),
        status="open" if closed else "draft",
        announced_as_draft=not closed,
        notification_id=stable_event_id("notification", invoice_id, channel, invoice_id)
        if closed and address
        else None,
        channel=channel if address else None,
        quantities={row_id: quantities[row_id] for row_id in new_row_ids},
    )
    stream.order_rows.setdefault(data["orderId"], set()).update(new_row_ids)
    stream.applied.add((event["source"], event["id"]))


def build_stream(
    seed: int, orders: int, run: str, *, duplicates: float = 0.1, commands: bool = True
) -> Stream:
    """`orders` orders (about 1.2 messages each), interleaved as many shops would send them,
    each order's messages in their order; about `duplicates` of them sent twice."""
    builder = _Builder(seed, run)
    pending = [builder.order(index) for index in range(orders)]
    phase: list[Outgoing] = []
    while pending:
        messages = builder.random.choice(pending)
        phase.append(messages.pop(0))
        if builder.random.random() < duplicates:
            phase.append(phase[-1])  # the same record again: the inbox must drop it
        pending = [messages for messages in pending if messages]
    builder.stream.phases[0] = phase
    if commands:
        phase = builder.commands()
        for index in range(len(phase) - 1, -1, -1):
            if builder.random.random() < duplicates:
                phase.insert(index + 1, phase[index])
        # Returns on a phase of their own: two topics in one phase would reach the worker
        # in an order of the broker's, and the credit notes share one number series.
        builder.stream.phases[1:] = [
            [record for record in phase if record.kind != kind] for kind in ("returns", "commands")
        ]
    return builder.stream
