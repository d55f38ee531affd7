"""`invoicer dev --demo`: the sample orders told as a story, one after the other.

Each sample is published with the current time, and once the worker has answered, the
story prints the invoice it became (lines, VAT breakdown, totals) and every event it
caused (type, topic, key). A draft is then closed by a command, whose result is shown too;
once paid, part of it is returned, and what is owed back is refunded.
Plain text on standard output (no colour codes), in a stable order.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from importlib import resources
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from worker.dunning_scan import scan
from worker.logs import Lines
from worker.messages import stable_event_id
from worker.settings import Settings
from worker.store.pool import create_pool

SAMPLES = "worker.demo"
ORDER_PREFIX = "order-completed"
CLOSE_COMMAND = "invoice-command-close.json"
DRAFT_SAMPLE = "order-completed-draft.json"
RETURN_SAMPLE = "order-returned.json"
SELLER_PREFIX = "seller-updated"
ANSWER_TIMEOUT_SECONDS = 30.0
QUIET_SECONDS = 0.5
"""How long after its last expected event a step's other events may still come."""
Received = tuple[str, dict[str, Any]]
"""(topic, event) of an event the worker emitted."""
PART_PAYMENT = "500.00"
REMINDED_AFTER_DAYS = 8
"""The demo's overdue scan runs as if this long after the due date: past the first
reminder level (INVOICER_REMINDER_DAYS, 7 by default)."""
LINE_ROW = "  {no:>2}  {name:<30} {qty:>8} {price:>10} {disc:>5} {rate:>6} {net:>11}"


class Story:
    """Publishes the samples and prints what became of each."""

    def __init__(self, settings: Settings, output: Lines, api_url: str | None = None) -> None:
        self._settings = settings
        self._output = output
        self._api_url = api_url
        self._seen: dict[bytes | None, list[Received]] = defaultdict(list)
        self._arrived = asyncio.Event()

    async def tell(self) -> None:
        settings = self._settings
        topics = settings.topics
        outputs = [
            topics.invoices_closed,
            topics.invoice_events,
            topics.notifications_requested,
            topics.command_results,
            topics.dead_letter,
        ]
        consumer = AIOKafkaConsumer(
            *outputs,
            bootstrap_servers=settings.kafka_bootstrap_servers,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers, acks="all")
        await consumer.start()
        await producer.start()
        reading = asyncio.create_task(self._read(consumer))
        try:
            for event in _seller_samples():
                await self._register_seller(producer, event)
            for name, event in _samples():
                await self._publish(producer, topics.orders_completed, event)
                self._order(name, event, await self._answer(event["data"]["orderId"]))
            draft = _sample(DRAFT_SAMPLE)
            order_id = draft["data"]["orderId"]
            command = _sample(CLOSE_COMMAND)
            command["data"]["invoiceId"] = stable_event_id("invoice", draft["source"], draft["id"])
            await self._publish(producer, topics.invoice_commands, command, order_id)
            answer = await self._answer(order_id, command["id"])
            self._command(command, f"the draft of order {order_id}", answer)
            await self._life_of(producer, order_id, command["data"]["invoiceId"], answer)
            await self._return(producer, order_id, command["data"]["invoiceId"])
            self._write("\nThe demo is done; the worker goes on. Ctrl-C stops everything.\n")
        finally:
            reading.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reading
            await producer.stop()
            await consumer.stop()

    async def _register_seller(self, producer: AIOKafkaProducer, event: dict[str, Any]) -> None:
        """A marketplace's merchant registered as a seller of its own: its orders are
        invoiced in its name, in its series."""
        data = event["data"]
        await producer.send_and_wait(
            self._settings.topics.sellers,
            value=json.dumps(event).encode(),
            key=data["sellerId"].encode(),
        )
        self._write(
            f"\n== seller-updated {data['sellerId']}: {data['name']}, {data['vatId']},"
            f" invoices numbered {data['invoiceNumberPrefix']}-…, {data['paymentTermsDays']}"
            " days to pay\n"
        )

    async def _life_of(
        self, producer: AIOKafkaProducer, order_id: str, invoice_id: str, closing: list[Received]
    ) -> None:
        """The closed invoice partly paid, overdue and reminded (a scan as if it were a week
        past its due date), then paid."""
        [closed] = [e["data"] for _, e in closing if e.get("type") == "invoice-closed"]
        left = await self._pay(producer, order_id, invoice_id, PART_PAYMENT, "part")
        as_of = date.fromisoformat(closed["dueDate"]) + timedelta(days=REMINDED_AFTER_DAYS)
        self._write(f"\n== an overdue scan as if today were {as_of}\n")
        pool = await create_pool(self._settings.database_url)
        try:
            await scan(pool, self._settings, as_of, wait=True)
        finally:
            await pool.close()
        self._events(await self._answer(order_id, kind="invoice-overdue"))
        await self._pay(producer, order_id, invoice_id, left, "rest")

    async def _return(self, producer: AIOKafkaProducer, order_id: str, invoice_id: str) -> None:
        """Part of the paid invoice returned: a credit note at once, what is owed back, and
        the refund of it from the first payment."""
        event = _sample(RETURN_SAMPLE)
        data = event["data"]
        await self._publish(producer, self._settings.topics.orders_returned, event)
        answer = await self._answer(order_id, kind="notification-requested")
        returned = ", ".join(f"{row['quantity']} of row {row['rowId']}" for row in data["rows"])
        self._write(f"\n== order-returned {data['returnId']} of order {order_id}: {returned}\n")
        [note] = [e["data"] for _, e in answer if e.get("type") == "invoice-closed"]
        self._invoice(note)
        [credited] = [e["data"] for _, e in answer if e.get("type") == "invoice-credited"]
        owed = credited["invoice"]["totals"]["refundDue"]
        self._write(f"  refund owed on the invoice: {owed} {note['currency']}\n")
        self._pdfs(answer)
        self._events(answer)
        command: dict[str, Any] = {
            "specversion": "1.0",
            "id": "demo-refund",
            "source": "/backoffice",
            "type": "invoice-command",
            "data": {
                "action": "refund-payment",
                "invoiceId": invoice_id,
                "paymentId": "demo-payment-part",
                "amount": owed,
                "reason": f"return {data['returnId']}",
            },
        }
        await self._publish(producer, self._settings.topics.invoice_commands, command, order_id)
        answer = await self._answer(order_id, "demo-refund")
        self._command(command, f"the invoice of order {order_id}", answer)

    async def _pay(
        self, producer: AIOKafkaProducer, order_id: str, invoice_id: str, amount: str, name: str
    ) -> str:
        """Records a payment by command; what is left due after it."""
        command_id = f"demo-payment-{name}"
        command: dict[str, Any] = {
            "specversion": "1.0",
            "id": command_id,
            "source": "/backoffice",
            "type": "invoice-command",
            "data": {
                "action": "record-payment",
                "invoiceId": invoice_id,
                "amount": amount,
                "method": "bank transfer",
            },
        }
        await self._publish(producer, self._settings.topics.invoice_commands, command, order_id)
        answer = await self._answer(order_id, command_id)
        self._command(command, f"the invoice of order {order_id}", answer)
        [result] = [e["data"] for _, e in answer if e.get("type") == "invoice-command-result"]
        return str(result["invoice"]["totals"]["amountDue"])

    async def _publish(
        self, producer: AIOKafkaProducer, topic: str, event: dict[str, Any], key: str = ""
    ) -> None:
        event["time"] = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        order_id = key or event["data"]["orderId"]
        await producer.send_and_wait(topic, value=json.dumps(event).encode(), key=order_id.encode())

    async def _read(self, consumer: AIOKafkaConsumer) -> None:
        async for message in consumer:
            self._seen[message.key].append((message.topic, json.loads(message.value)))
            self._arrived.set()

    async def _answer(
        self, order_id: str, command_id: str | None = None, kind: str | None = None
    ) -> list[Received]:
        """The events about the order once the worker has answered: its invoice made (or
        the command answered, or a dead letter) and, for an invoice closed with a seller,
        its documents stored; and whatever follows within a moment."""
        key = order_id.encode()
        already = len(self._seen[key])
        deadline = time.monotonic() + ANSWER_TIMEOUT_SECONDS
        while not _answered([event for _, event in self._seen[key][already:]], command_id, kind):
            if time.monotonic() > deadline:
                raise TimeoutError(f"no answer about order {order_id} in time")
            self._arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), 1.0)
        count = -1
        while count != len(self._seen[key]):
            count = len(self._seen[key])
            await asyncio.sleep(QUIET_SECONDS)
        return self._seen[key][already:]

    def _order(self, name: str, event: dict[str, Any], events: list[Received]) -> None:
        data = event["data"]
        mode = "prices include tax" if data.get("pricesIncludeTax") else "prices exclude tax"
        self._write(
            f"\n== {name}: order {data['orderId']} from {data['customer']['name']}"
            f" ({data['currency']}, {mode})\n"
        )
        invoice = next(
            (
                e["data"]
                for _, e in events
                if e.get("type") in ("invoice-closed", "invoice-created")
            ),
            None,
        )
        if invoice is not None:
            self._invoice(invoice)
        self._pdfs(events)
        self._events(events)

    def _invoice(self, invoice: dict[str, Any]) -> None:
        number = invoice.get("invoiceNumber") or "(draft, not numbered yet)"
        kind = invoice["type"].replace("-", " ")
        seller = invoice.get("seller")
        issued_by = (
            "" if seller is None else f", issued by {seller['name']} ({invoice['sellerId']})"
        )
        self._write(f"  {kind} {number}, status {invoice['status']}{issued_by}\n")
        self._write(
            LINE_ROW.format(
                no="#", name="item", qty="qty", price="price", disc="disc%", rate="tax%", net="net"
            )
            + "\n"
        )
        for line in invoice["lines"]:
            self._write(
                LINE_ROW.format(
                    no=line["lineNo"],
                    name=line["name"][:30],
                    qty=line["quantity"],
                    price=line["unitPrice"],
                    disc=line["discountPercent"],
                    rate=line["taxRate"],
                    net=line["netAmount"],
                )
                + "\n"
            )
        adjustments = [("allowance", item) for item in invoice.get("allowances") or []] + [
            ("charge", item) for item in invoice.get("charges") or []
        ]
        for kind, item in adjustments:
            parts = ", ".join(f"{part['taxRate']} % {part['amount']}" for part in item["parts"])
            self._write(f"  {kind} {item['reason']} {item['amount']}: {parts}\n")
        for group in invoice["taxBreakdown"]:
            self._write(
                f"  VAT {group['taxRate']:>5} %: taxable {group['taxableAmount']},"
                f" tax {group['taxAmount']}\n"
            )
        totals = invoice["totals"]
        if adjustments:
            self._write(
                f"  lines net {totals['lineNetAmount']}  allowances {totals['allowanceAmount']}"
                f"  charges {totals['chargeAmount']}\n"
            )
        due = f", due {invoice['dueDate']}" if invoice.get("dueDate") else ""
        owed = (
            "" if invoice["type"] == "credit-note" else f"  amount due {totals['amountDue']}{due}"
        )
        self._write(
            f"  net {totals['netAmount']}  tax {totals['taxAmount']}"
            f"  gross {totals['grossAmount']} {invoice['currency']}{owed}\n"
        )

    def _pdfs(self, events: list[Received]) -> None:
        """Where the read API serves the PDF of each invoice that has one."""
        for _, event in events:
            if self._api_url is not None and event.get("type") == "invoice-documents-ready":
                for document in event["data"]["documents"]:
                    if document["kind"] == "pdf":
                        self._write(f"  PDF at {self._api_url}{document['path']}\n")

    def _command(self, command: dict[str, Any], about: str, events: list[Received]) -> None:
        data = command["data"]
        self._write(f"\n== command {data['action']} of {about}: {json.dumps(data)}\n")
        for _, event in events:
            if event.get("type") == "invoice-command-result":
                result = event["data"]
                snapshot = result["invoice"] or {}
                self._write(
                    f"  result: ok {str(result['ok']).lower()}, status {snapshot.get('status')},"
                    f" number {snapshot.get('invoiceNumber')}, version {snapshot.get('version')}"
                    f"{''.join(f', warning: {w}' for w in result['warnings'])}\n"
                )
        self._pdfs(events)
        self._events(events)

    def _events(self, events: list[Received]) -> None:
        """In the order they follow from each other, whatever topic each came on."""
        for topic, event in sorted(events, key=lambda received: _rank(received[1])):
            kind = event.get("type", "dead letter")
            self._write(f"  -> {kind:<24} on {topic:<26} {_about(event)}".rstrip() + "\n")

    def _write(self, text: str) -> None:
        self._output.write(text)
        self._output.flush()


def _answered(events: list[dict[str, Any]], command_id: str | None, kind: str | None) -> bool:
    if kind is not None:
        return any(event.get("type") == kind for event in events)
    if not any(_answers(event, command_id) for event in events):
        return False
    closed = [event["data"] for event in events if event.get("type") == "invoice-closed"]
    return not any(_awaits_documents(invoice) for invoice in closed) or any(
        event.get("type") == "invoice-documents-ready" for event in events
    )


def _awaits_documents(invoice: dict[str, Any]) -> bool:
    """A closed invoice with a seller: its documents are made."""
    return "seller" in invoice and invoice.get("invoiceNumber") is not None


def _answers(event: dict[str, Any], command_id: str | None) -> bool:
    if command_id is not None:
        return event.get("type") == "invoice-command-result" and (
            event["data"]["commandId"] == command_id
        )
    return event.get("type") in ("invoice-closed", "invoice-created") or "type" not in event


EVENT_ORDER = (
    "invoice-command-result",
    "invoice-created",
    "invoice-closed",
    "invoice-documents-ready",
    "invoice-payment-recorded",
    "invoice-payment-refunded",
    "invoice-credited",
    "invoice-overdue",
    "notification-requested",
    "invoice-paid",
)
"""The order the story tells a step's events in, whatever topic and moment each came at."""


def _rank(event: dict[str, Any]) -> int:
    kind = event.get("type", "")
    return EVENT_ORDER.index(kind) if kind in EVENT_ORDER else len(EVENT_ORDER)


def _about(event: dict[str, Any]) -> str:
    data = event.get("data", {})
    match event.get("type"):
        case "notification-requested" if "creditAmount" in data:
            return (
                f"credit note of {data['creditAmount']} by {data['channel']} to"
                f" {data['recipient']}, {data['amountDue']} due, {data['refundDue']} owed back"
            )
        case "notification-requested":
            due = f"{data['amountDue']} {data['currency']}"
            what = f"reminder {data['reminderLevel']}" if "reminderLevel" in data else "invoice"
            return f"{what} by {data['channel']} to {data['recipient']}, {due} due"
        case "invoice-credited" | "invoice-payment-refunded":
            totals = data["invoice"]["totals"]
            return f"{totals['amountDue']} due, {totals['refundDue']} owed back"
        case "invoice-payment-recorded":
            return f"{data['payment']['amount']} paid, {data['invoice']['totals']['amountDue']} due"
        case "invoice-overdue":
            return f"{data['invoiceNumber']}, {data['daysOverdue']} days past due"
        case "invoice-closed":
            return str(data["invoiceNumber"])
        case "invoice-paid" | "invoice-voided":
            return f"{data['invoiceNumber']}, {data['status']}"
        case _:
            return ""


def _sample(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(resources.files(SAMPLES).joinpath(name).read_text("utf-8"))
    return loaded


def _seller_samples() -> list[dict[str, Any]]:
    """The marketplace's merchants, by file name."""
    names = sorted(
        entry.name
        for entry in resources.files(SAMPLES).iterdir()
        if entry.name.startswith(SELLER_PREFIX)
    )
    return [_sample(name) for name in names]


def _samples() -> Iterator[tuple[str, dict[str, Any]]]:
    """The sample orders, by file name; the draft last, for the close command."""
    names = sorted(
        entry.name
        for entry in resources.files(SAMPLES).iterdir()
        if entry.name.startswith(ORDER_PREFIX) and entry.name != DRAFT_SAMPLE
    )
    for name in [*names, DRAFT_SAMPLE]:
        yield name.removesuffix(".json"), _sample(name)
