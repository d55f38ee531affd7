"""invoice-command through the real broker and database (docs/contract.md, "invoice-command")."""

from __future__ import annotations

import asyncpg

from tests.integration.flows import (
    await_event,
    command_event,
    draft_invoice,
    order_event,
    order_invoiced,
    publish_order,
    row,
    send_command,
)
from tests.integration.kafka_client import KafkaClient
from tests.lifecycle_table import LIFECYCLE
from worker.running import Worker
from worker.settings import Settings

# A command of each action, valid in its fields, for an invoice of every status.
COMMANDS = {
    "update": {"note": "changed"},
    "delete": {},
    "close": {},
    "send": {"recipient": "someone@example.com"},
    "void": {"reason": "ordered twice"},
    "record-payment": {"amount": "1.00"},
    "refund-payment": {"paymentId": "p-1", "amount": "1.00"},
}


async def invoice_in_each_status(
    kafka: KafkaClient, settings: Settings, prefix: str, *, partly_paid: bool = False
) -> dict[str, str]:
    """status → invoice id, each made through commands; the paid one paid by payment
    "p-1", and so the open one too when `partly_paid`."""
    ids = {
        "draft": (await draft_invoice(kafka, settings, f"{prefix}-draft"))["invoiceId"],
        "open": (await order_invoiced(kafka, settings, f"{prefix}-open"))["invoiceId"],
    }
    if partly_paid:
        pay = command_event("record-payment", invoiceId=ids["open"], paymentId="p-1", amount="2")
        assert (await send_command(kafka, settings, pay))["ok"]
    paid = (await order_invoiced(kafka, settings, f"{prefix}-paid"))["invoiceId"]
    assert (
        await send_command(
            kafka,
            settings,
            command_event("record-payment", invoiceId=paid, paymentId="p-1", amount="12.10"),
        )
    )["ok"]
    void = (await order_invoiced(kafka, settings, f"{prefix}-void"))["invoiceId"]
    assert (
        await send_command(kafka, settings, command_event("void", invoiceId=void, reason="test"))
    )["ok"]
    deleted = (await draft_invoice(kafka, settings, f"{prefix}-deleted"))["invoiceId"]
    assert (await send_command(kafka, settings, command_event("delete", invoiceId=deleted)))["ok"]
    return {**ids, "paid": paid, "void": void, "deleted": deleted}


async def test_every_action_in_every_status_is_allowed_or_refused_as_the_lifecycle_says(
    worker: Worker, kafka: KafkaClient, settings: Settings
) -> None:
    outcomes: dict[tuple[str, str], str | None] = {}
    for action, fields in COMMANDS.items():
        # a fresh set of invoices per action, so one action's effect never decides another's
        invoices = await invoice_in_each_status(
            kafka, settings, f"L-{action}", partly_paid=action == "refund-payment"
        )
        for status, invoice_id in invoices.items():
            result = await send_command(
                kafka, settings, command_event(action, invoiceId=invoice_id, **fields)
            )
            outcomes[(status, action)] = None if result["ok"] else result["errors"]["invoiceId"][0]
    assert outcomes == {
        (status.value, action.value): reason for (status, action), reason in LIFECYCLE.items()
    }


async def test_create_invoices_the_free_rows_as_a_draft(
    worker: Worker, kafka: KafkaClient, settings: Settings
) -> None:
    draft = await draft_invoice(kafka, settings, "CR-1", row("a"))
    assert (
        await send_command(kafka, settings, command_event("delete", invoiceId=draft["invoiceId"]))
    )["ok"]
    result = await send_command(
        kafka, settings, command_event("create", orderId="CR-1", note="again")
    )
    assert result["ok"]
    assert result["invoice"]["status"] == "draft"
    assert result["invoice"]["invoiceNumber"] is None
    created = await await_event(
        kafka,
        settings.topics.invoice_events,
        lambda e: e["data"]["invoiceId"] == result["invoice"]["invoiceId"],
    )
    assert [line["orderRowId"] for line in created.event["data"]["lines"]] == ["a"]
    assert created.event["data"]["note"] == "again"


async def test_create_with_nothing_to_invoice_is_ok_with_a_warning(
    worker: Worker, kafka: KafkaClient, settings: Settings
) -> None:
    await order_invoiced(kafka, settings, "CR-2")
    result = await send_command(kafka, settings, command_event("create", orderId="CR-2"))
    assert (result["ok"], result["invoice"], result["warnings"]) == (
        True,
        None,
        ["nothing to invoice"],
    )


async def test_create_for_an_unknown_order_is_refused(
    worker: Worker, kafka: KafkaClient, settings: Settings
) -> None:
    event = command_event("create", orderId="NOPE")
    result = await send_command(kafka, settings, event, key="NOPE")
    assert result["ok"] is False
    assert "orderId" in result["errors"]
    assert result["details"]


async def test_create_with_close_emits_invoice_closed(
    worker: Worker, kafka: KafkaClient, settings: Settings
) -> None:
    draft = await draft_invoice(kafka, settings, "CR-3", row("a"), row("b"))
    assert (
        await send_command(kafka, settings, command_event("delete", invoiceId=draft["invoiceId"]))
    )["ok"]
    result = await send_command(
        kafka, settings, command_event("create", orderId="CR-3", rowIds=["b"], close=True)
    )
    assert result["invoice"]["status"] == "open"
    assert result["invoice"]["invoiceNumber"].startswith("INV-")
    closed = await await_event(
        kafka,
        settings.topics.invoices_closed,
        lambda e: e["data"]["invoiceId"] == result["invoice"]["invoiceId"],
    )
    assert [line["orderRowId"] for line in closed.event["data"]["lines"]] == ["b"]


async def test_update_with_a_stale_expected_version_is_refused(
    worker: Worker, kafka: KafkaClient, settings: Settings
) -> None:
    draft = await draft_invoice(kafka, settings, "U-1")
    first = await send_command(
        kafka,
        settings,
        command_event("update", invoiceId=draft["invoiceId"], expectedVersion=1, note="a"),
    )
    assert first["ok"]
    assert first["invoice"]["version"] == 2
    stale = await send_command(
        kafka,
        settings,
        command_event("update", invoiceId=draft["invoiceId"], expectedVersion=1, note="b"),
    )
    assert stale["ok"] is False
    assert list(stale["errors"]) == ["expectedVersion"]
    assert stale["invoice"]["version"] == 2


async def test_update_changes_the_rows_and_customer_of_a_draft(
    worker: Worker, kafka: KafkaClient, settings: Settings, db: asyncpg.Connection
) -> None:
    draft = await draft_invoice(kafka, settings, "U-2", row("a"), row("b", unit_price="5.00"))
    result = await send_command(
        kafka,
        settings,
        command_event(
            "update",
            invoiceId=draft["invoiceId"],
            rowIds=["b"],
            customer={"name": "New Name", "email": None},
        ),
    )
    assert result["ok"], (result["errors"], result["details"])
    assert result["invoice"]["totals"]["grossAmount"] == "6.05"
    customer = await db.fetchval(
        "SELECT customer FROM invoices WHERE invoice_id = $1::uuid", draft["invoiceId"]
    )
    assert customer == {"name": "New Name"}
    # row a is free again: the next create takes it
    again = await send_command(kafka, settings, command_event("create", orderId="U-2"))
    assert again["invoice"]["totals"]["grossAmount"] == "12.10"


async def test_a_deleted_draft_frees_its_rows_for_the_next_order_message(
    worker: Worker, kafka: KafkaClient, settings: Settings
) -> None:
    draft = await draft_invoice(kafka, settings, "D-1", row("a"))
    assert (
        await send_command(kafka, settings, command_event("delete", invoiceId=draft["invoiceId"]))
    )["ok"]
    await publish_order(kafka, settings, order_event("D-1", [row("a")]))
    closed = await await_event(
        kafka, settings.topics.invoices_closed, lambda e: e["data"]["orderId"] == "D-1"
    )
    assert [line["orderRowId"] for line in closed.event["data"]["lines"]] == ["a"]


async def test_close_numbers_the_draft_and_send_without_recipient_warns(
    worker: Worker, kafka: KafkaClient, settings: Settings
) -> None:
    await publish_order(
        kafka,
        settings,
        order_event(
            "CL-1", [row("1")], customer={"name": "No Address"}, invoicing={"autoClose": False}
        ),
    )
    created = await await_event(
        kafka, settings.topics.invoice_events, lambda e: e["data"]["orderId"] == "CL-1"
    )
    result = await send_command(
        kafka,
        settings,
        command_event("close", invoiceId=created.event["data"]["invoiceId"], send=True),
    )
    assert result["ok"]
    assert result["invoice"]["status"] == "open"
    assert result["invoice"]["invoiceNumber"]
    assert result["warnings"]
    assert "not sent" in result["warnings"][0]


async def test_send_requests_a_notification_and_needs_a_recipient(
    worker: Worker, kafka: KafkaClient, settings: Settings
) -> None:
    invoice = await order_invoiced(kafka, settings, "S-1")
    by_sms = command_event("send", invoiceId=invoice["invoiceId"], channel="sms")
    refused = await send_command(kafka, settings, by_sms)
    assert refused["ok"] is False
    assert list(refused["errors"]) == ["recipient"]
    sent = command_event(
        "send", invoiceId=invoice["invoiceId"], channel="sms", recipient="+31612345678"
    )
    assert (await send_command(kafka, settings, sent))["ok"]
    notification = await await_event(
        kafka,
        settings.topics.notifications_requested,
        lambda e: (
            e["data"]["reason"] == "command" and e["data"]["invoiceId"] == invoice["invoiceId"]
        ),
    )
    assert (notification.event["data"]["channel"], notification.event["data"]["recipient"]) == (
        "sms",
        "+31612345678",
    )


async def test_void_emits_invoice_voided_keeps_the_number_and_frees_the_rows(
    worker: Worker, kafka: KafkaClient, settings: Settings
) -> None:
    invoice = await order_invoiced(kafka, settings, "V-1", row("a"))
    result = await send_command(
        kafka,
        settings,
        command_event("void", invoiceId=invoice["invoiceId"], reason="duplicate order"),
    )
    assert result["invoice"]["status"] == "void"
    assert result["invoice"]["invoiceNumber"] == invoice["invoiceNumber"]
    voided = await await_event(
        kafka, settings.topics.invoice_events, lambda e: e["type"] == "invoice-voided"
    )
    assert voided.event["data"]["reason"] == "duplicate order"
    again = await send_command(kafka, settings, command_event("create", orderId="V-1", close=True))
    assert again["invoice"]["invoiceNumber"] != invoice["invoiceNumber"]


async def test_partial_payments_down_to_paid_emit_invoice_paid_once(
    worker: Worker, kafka: KafkaClient, settings: Settings
) -> None:
    invoice = await order_invoiced(
        kafka, settings, "P-1", row("1", unit_price="100.00", tax_rate="0")
    )
    first = await send_command(
        kafka,
        settings,
        command_event("record-payment", invoiceId=invoice["invoiceId"], amount="40"),
    )
    assert (first["invoice"]["status"], first["invoice"]["totals"]["amountDue"]) == (
        "open",
        "60.00",
    )
    too_much = await send_command(
        kafka,
        settings,
        command_event("record-payment", invoiceId=invoice["invoiceId"], amount="60.01"),
    )
    assert list(too_much["errors"]) == ["amount"]
    last = await send_command(
        kafka,
        settings,
        command_event(
            "record-payment",
            invoiceId=invoice["invoiceId"],
            amount="60.00",
            method="bank-transfer",
            reference="TX-1",
        ),
    )
    assert (
        last["invoice"]["status"],
        last["invoice"]["totals"]["amountDue"],
        last["invoice"]["version"],
    ) == ("paid", "0.00", 3)
    paid = await await_event(
        kafka, settings.topics.invoice_events, lambda e: e["type"] == "invoice-paid"
    )
    assert paid.event["data"]["payment"]["amount"] == "60.00"
    assert paid.event["data"]["payment"]["reference"] == "TX-1"
    emitted = await kafka.read_quiet(settings.topics.invoice_events, 1)
    paid_events = [
        r
        for r in emitted
        if r.value is not None
        and r.event["type"] == "invoice-paid"
        and r.event["data"]["invoiceId"] == invoice["invoiceId"]
    ]
    assert len(paid_events) == 1, [r.event["data"] for r in paid_events]


async def test_credit_notes_have_their_own_series_and_lower_the_amount_due(
    worker: Worker, kafka: KafkaClient, settings: Settings
) -> None:
    invoice = await order_invoiced(
        kafka, settings, "CN-1", row("a", tax_rate="0"), row("b", unit_price="5.00", tax_rate="0")
    )
    partial = await send_command(
        kafka,
        settings,
        command_event(
            "create",
            orderId="CN-1",
            type="credit-note",
            referenceInvoiceId=invoice["invoiceId"],
            rowIds=["b"],
            close=True,
        ),
    )
    assert partial["invoice"]["invoiceNumber"].startswith("CN-")
    assert partial["invoice"]["totals"]["grossAmount"] == "5.00"
    twice = await send_command(
        kafka,
        settings,
        command_event(
            "create",
            orderId="CN-1",
            type="credit-note",
            referenceInvoiceId=invoice["invoiceId"],
            rowIds=["b"],
        ),
    )
    assert twice["ok"] is False
    assert "rowIds.0" in twice["errors"]
    rest = await send_command(
        kafka,
        settings,
        command_event(
            "create",
            orderId="CN-1",
            type="credit-note",
            referenceInvoiceId=invoice["invoiceId"],
            close=True,
        ),
    )
    assert rest["invoice"]["totals"]["grossAmount"] == "10.00"
    paid = await await_event(
        kafka, settings.topics.invoice_events, lambda e: e["type"] == "invoice-paid"
    )
    assert paid.event["data"]["invoiceId"] == invoice["invoiceId"]
    assert "payment" not in paid.event["data"]
    assert paid.event["data"]["totals"]["amountDue"] == "0.00"
    assert paid.event["data"]["totals"]["creditedAmount"] == "15.00"


async def test_a_credit_note_credits_quantities_of_lines_and_a_second_one_the_rest(
    worker: Worker, kafka: KafkaClient, settings: Settings
) -> None:
    invoice = await order_invoiced(
        kafka, settings, "QTY-1", row("a", quantity="3"), row("b", unit_price="5.00")
    )

    def credit_note(**credited: object) -> dict[str, object]:
        return command_event(
            "create",
            orderId="QTY-1",
            type="credit-note",
            referenceInvoiceId=invoice["invoiceId"],
            close=True,
            **credited,
        )

    partial = await send_command(
        kafka, settings, credit_note(lines=[{"lineNo": 1, "quantity": "1.0"}])
    )
    assert partial["ok"], partial
    assert partial["invoice"]["totals"]["grossAmount"] == "12.10"
    closed = await await_event(
        kafka,
        settings.topics.invoices_closed,
        lambda e: e["data"]["invoiceId"] == partial["invoice"]["invoiceId"],
    )
    [line] = closed.event["data"]["lines"]
    assert (line["lineNo"], line["orderRowId"], line["quantity"], line["netAmount"]) == (
        1,
        "a",
        "1.0",
        "10.00",
    )

    rest = await send_command(kafka, settings, credit_note())
    assert rest["ok"], rest
    # 7.35 of tax on the invoice, 2.10 of it on the first note: the rest takes 5.25
    assert rest["invoice"]["totals"]["grossAmount"] == "30.25"
    paid = await await_event(
        kafka,
        settings.topics.invoice_events,
        lambda e: e["type"] == "invoice-paid" and e["data"]["invoiceId"] == invoice["invoiceId"],
    )
    assert paid.event["data"]["totals"]["creditedAmount"] == invoice["totals"]["grossAmount"]


async def test_a_credit_by_quantity_beyond_what_is_left_is_refused_naming_the_field(
    worker: Worker, kafka: KafkaClient, settings: Settings
) -> None:
    invoice = await order_invoiced(kafka, settings, "QTY-2", row("a", quantity="3"))

    def credit_note(*lines: dict[str, object]) -> dict[str, object]:
        return command_event(
            "create",
            orderId="QTY-2",
            type="credit-note",
            referenceInvoiceId=invoice["invoiceId"],
            lines=list(lines),
        )

    first = await send_command(kafka, settings, credit_note({"lineNo": 1, "quantity": "2"}))
    assert first["ok"], first
    refusals = {
        "more than is left": ([{"lineNo": 1, "quantity": "1.5"}], "lines.0.quantity"),
        "not on the invoice": (
            [{"lineNo": 1, "quantity": "1"}, {"lineNo": 2, "quantity": "1"}],
            "lines.1.lineNo",
        ),
        "repeated": ([{"lineNo": 1, "quantity": "0.5"}] * 2, "lines.1.lineNo"),
    }
    for refusal, (lines, field) in refusals.items():
        result = await send_command(kafka, settings, credit_note(*lines))
        assert (result["ok"], list(result["errors"])) == (False, [field]), (refusal, result)
    assert (await send_command(kafka, settings, credit_note({"lineNo": 1, "quantity": "1"})))["ok"]


async def test_a_command_seen_before_changes_nothing_and_its_result_is_published_again(
    worker: Worker, kafka: KafkaClient, settings: Settings
) -> None:
    invoice = await order_invoiced(
        kafka, settings, "DUP-1", row("1", unit_price="100.00", tax_rate="0")
    )
    payment = command_event("record-payment", invoiceId=invoice["invoiceId"], amount="10.00")
    first = await send_command(kafka, settings, payment)
    await kafka.publish(settings.topics.invoice_commands, payment)
    results = await kafka.read(settings.topics.command_results, 2)
    copies = [m for m in results if m.event["data"]["commandId"] == payment["id"]]
    assert len(copies) == 2
    assert copies[0].value == copies[1].value
    assert first["invoice"]["totals"]["paidAmount"] == "10.00"
    check = await send_command(
        kafka, settings, command_event("send", invoiceId=invoice["invoiceId"])
    )
    assert check["invoice"]["totals"]["paidAmount"] == "10.00"


async def test_an_invalid_command_gets_a_result_not_a_dead_letter(
    worker: Worker, kafka: KafkaClient, settings: Settings
) -> None:
    result = await send_command(
        kafka, settings, command_event("record-payment", invoiceId="x", amount="-5"), key="K-1"
    )
    assert result["ok"] is False
    assert "amount" in result["errors"]
    assert result["action"] == "record-payment"
    unknown = await send_command(kafka, settings, command_event("teleport", invoiceId="x"))
    assert unknown["ok"] is False
    assert "action" in unknown["errors"]
    missing = await send_command(
        kafka, settings, command_event("close", invoiceId="00000000-0000-0000-0000-000000000000")
    )
    assert missing["ok"] is False
    assert list(missing["errors"]) == ["invoiceId"]


async def test_a_due_date_before_today_is_refused_naming_due_date(
    worker: Worker, kafka: KafkaClient, settings: Settings
) -> None:
    draft = await draft_invoice(kafka, settings, "CMD-DUE-1")

    update = await send_command(
        kafka,
        settings,
        command_event("update", invoiceId=draft["invoiceId"], dueDate="2001-01-01"),
    )
    create = await send_command(
        kafka,
        settings,
        command_event("create", orderId="CMD-DUE-1", dueDate="2001-01-01"),
    )

    assert (update["ok"], list(update["errors"])) == (False, ["dueDate"])
    assert update["invoice"]["version"] == draft["version"]
    assert (create["ok"], list(create["errors"])) == (False, ["dueDate"])


async def test_a_close_after_the_drafts_due_date_is_refused_naming_due_date(
    worker: Worker, kafka: KafkaClient, settings: Settings, db: asyncpg.Connection
) -> None:
    """A draft given a due date that has passed while it waited cannot be issued after it."""
    draft = await draft_invoice(kafka, settings, "CMD-DUE-2")
    await db.execute(
        "UPDATE invoices SET due_date = '2001-01-01' WHERE invoice_id = $1::uuid",
        draft["invoiceId"],
    )

    closed = await send_command(
        kafka, settings, command_event("close", invoiceId=draft["invoiceId"])
    )

    assert (closed["ok"], list(closed["errors"])) == (False, ["dueDate"])
    assert closed["invoice"]["status"] == "draft"
