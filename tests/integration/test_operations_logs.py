"""The worker's log lines as an operator's log pipeline gets them: JSON lines, each line
about a record bound to its identifiers, no personal data at INFO."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
import structlog

from tests.integration.flows import order_event, publish_order, row
from tests.integration.kafka_client import KafkaClient
from worker.logs import configure_logging
from worker.running import Worker
from worker.settings import Settings

EMAIL = "jane.roe.4711@example.org"
PHONE = "+31612345678"
STREET = "Keizersgracht 4711"
NAME = "Jane Roe-Personal"


@pytest.fixture
def log_output() -> Iterator[io.StringIO]:
    """What the worker logs during the test, as it would write it to a pipe."""
    output = io.StringIO()
    handler = configure_logging("INFO", stream=output)
    yield output
    logging.getLogger().removeHandler(handler)
    structlog.reset_defaults()


def lines(output: io.StringIO) -> list[dict[str, Any]]:
    parsed = [json.loads(line) for line in output.getvalue().splitlines()]
    assert parsed, "the worker logged something"
    return parsed


async def test_every_line_about_a_record_carries_its_identifiers_and_no_personal_data(
    log_output: io.StringIO, worker: Worker, kafka: KafkaClient, settings: Settings
) -> None:
    customer = {
        "name": NAME,
        "email": EMAIL,
        "phone": PHONE,
        "billingAddress": {"line1": STREET, "city": "Amsterdam", "country": "NL"},
    }
    # Delivery by sms to a customer without a phone: closed, and a line says why nothing
    # is sent (it is logged once the invoice exists).
    no_phone = {key: value for key, value in customer.items() if key != "phone"}
    closed = order_event("log-1", [row("1")], customer=no_phone, invoicing={"delivery": "sms"})
    closed["correlationid"] = "checkout-4711"
    mismatch = order_event("log-2", [{**row("1"), "lineTotal": "1.00"}], customer=customer)
    await publish_order(kafka, settings, closed)
    await publish_order(kafka, settings, mismatch)
    await kafka.publish(settings.topics.orders_completed, b"not json", key="log-3")

    await kafka.read(settings.topics.dead_letter, 2)
    [invoice] = [m.event for m in await kafka.read(settings.topics.invoices_closed, 1)]
    logged = lines(log_output)

    assert all({"event", "level", "timestamp"} <= line.keys() for line in logged)
    about_closed = [line for line in logged if line.get("messaging.message.id") == closed["id"]]
    assert about_closed, "the closed order's record is logged about"
    for line in about_closed:
        assert line["messaging.message.conversation_id"] == "checkout-4711"
        assert line["order_id"] == "log-1"
        assert line["messaging.destination.name"] == settings.topics.orders_completed
        assert isinstance(line["messaging.kafka.offset"], int)
    [no_address] = [line for line in about_closed if line.get("channel") == "sms"]
    assert no_address["invoice_id"] == invoice["data"]["invoiceId"]
    assert no_address["level"] == "info"
    # written once the batch is committed, with the number the invoice got
    [closing] = [line for line in about_closed if line["event"] == "invoice closed"]
    assert closing["invoice_id"] == invoice["data"]["invoiceId"]
    assert closing["invoice_number"] == invoice["data"]["invoiceNumber"]
    assert closing["level"] == "info"

    [dead_lettered] = [
        line for line in logged if line.get("messaging.message.id") == mismatch["id"]
    ]
    assert dead_lettered["messaging.message.conversation_id"] == mismatch["id"], (
        "no correlation id: the event id"
    )
    assert dead_lettered["order_id"] == "log-2"
    assert dead_lettered["reason"] == "validation"
    assert "invoice_id" not in dead_lettered

    [unreadable] = [line for line in logged if line.get("reason") == "invalid-json"]
    assert unreadable["messaging.destination.name"] == settings.topics.orders_completed
    assert unreadable["messaging.message.id"] is None

    text = log_output.getvalue()
    for personal in (EMAIL, PHONE, STREET, NAME):
        assert personal not in text
