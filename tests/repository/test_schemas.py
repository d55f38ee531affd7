"""schemas/ is the contract in machine-readable form: generated, in sync, and true."""

import json
import os
import subprocess
import sys
import tomllib
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from tests.examples import EXAMPLES_DIR
from worker.messages import (
    CustomerData,
    InvoiceBody,
    InvoiceClosedData,
    InvoiceCommandResult,
    InvoiceDocumentsReady,
    InvoiceLineData,
    InvoicePaidData,
    InvoiceSnapshot,
    InvoiceState,
    InvoiceVoidedData,
    NotificationRequestedData,
    PaymentData,
    RecordedPayment,
    TaxGroupData,
    TotalsData,
    event_bytes,
)
from worker.messages.outgoing import (
    DraftCreated,
    InvoiceChanged,
    InvoiceCreditedData,
    InvoiceDocumentsFailed,
    InvoiceOverdueData,
    PaymentRecordedData,
    PaymentRefundedData,
    RecordedRefund,
    Refund,
)
from worker.messages.routing import CONTRACT_VERSION, OUTGOING
from worker.schemas import ASYNCAPI_FILE, SCHEMA_DIRECTORY, render_schemas
from worker.settings import Topics

EXAMPLES = sorted(EXAMPLES_DIR.glob("*.json"))
REGENERATE = "schemas/ is out of date with the message models: run `python -m worker.schemas`"
RENDER_AS_JSON = (
    "import json; from worker.schemas import render_schemas; print(json.dumps(render_schemas()))"
)


def schema_of(event_type: str) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads((SCHEMA_DIRECTORY / f"{event_type}.json").read_text())
    return schema


def validator(schema: dict[str, Any]) -> Any:
    """A JSON Schema 2020-12 validator (the `jsonschema` package, a dev dependency)."""
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def committed_files() -> dict[str, str]:
    return {
        path.name: path.read_text(encoding="utf-8")
        for path in SCHEMA_DIRECTORY.iterdir()
        if path.is_file()
    }


def test_schema_files_equal_the_generated_ones() -> None:
    expected = render_schemas()
    on_disk = committed_files()

    assert sorted(on_disk) == sorted(expected), f"{REGENERATE}, and delete any other file"
    for name, content in expected.items():
        assert on_disk[name] == content, f"{name}: {REGENERATE}"


@pytest.mark.parametrize("hash_seed", ["0", "1"])
def test_a_fresh_process_renders_the_committed_files(hash_seed: str) -> None:
    """Rendered afresh, away from this test session's imports, under two string-hashing
    seeds (set order): the files may not depend on the process."""
    rendered = subprocess.run(
        [sys.executable, "-c", RENDER_AS_JSON],
        env={**os.environ, "PYTHONHASHSEED": hash_seed},
        cwd=SCHEMA_DIRECTORY.parent,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )

    assert json.loads(rendered.stdout) == committed_files(), (
        f"{REGENERATE}; if it is up to date, the rendering depends on the process"
    )


@pytest.mark.parametrize("name", [name for name in render_schemas() if name.endswith(".json")])
def test_every_json_schema_is_a_valid_2020_12_schema(name: str) -> None:
    validator(json.loads(render_schemas()[name]))


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda path: path.name)
def test_every_sample_event_validates_against_its_schema(path: Path) -> None:
    event = json.loads(path.read_bytes())

    validator(schema_of(event["type"])).validate(event)


def test_the_schema_of_an_incoming_event_rejects_a_wrong_type() -> None:
    event = json.loads((EXAMPLES_DIR / "order-completed.json").read_bytes())
    event["type"] = "invoice-command"

    assert not validator(schema_of("order-completed")).is_valid(event)


def _totals() -> TotalsData:
    return TotalsData(
        net_amount="161.17",
        tax_amount="25.04",
        gross_amount="186.21",
        paid_amount="0.00",
        credited_amount="0.00",
        amount_due="186.21",
        refund_due="0.00",
    )


def _draft() -> InvoiceBody:
    return InvoiceBody(
        invoice_id="4f163819-178d-470c-a246-d6768476a6ec",
        type="invoice",
        order_id="NL-10042",
        status="draft",
        currency="EUR",
        prices_include_tax=False,
        customer=CustomerData(name="Bakkerij de Vries B.V.", email="administratie@devries.example"),
        lines=[
            InvoiceLineData(
                line_no=1,
                order_row_id="a",
                sku="FLOUR-25",
                name="Flour 25 kg",
                quantity="3",
                unit="bag",
                unit_price="18.99",
                discount_percent="0",
                tax_rate="9",
                net_amount="56.97",
            )
        ],
        tax_breakdown=[TaxGroupData(tax_rate="9", taxable_amount="73.42", tax_amount="6.61")],
        totals=_totals(),
        version=1,
    )


_PAYMENT = RecordedPayment(
    payment_id="bank-2026-118",
    amount="100.00",
    paid_at=datetime(2026, 11, 30, tzinfo=UTC),
    method="transfer",
    refunded_amount="10.00",
    refunds=[
        RecordedRefund(
            refund_id="refund-2026-7",
            amount="10.00",
            refunded_at=datetime(2026, 12, 1, tzinfo=UTC),
            reason="returned",
        )
    ],
)


def _invoice(status: str = "open", payments: tuple[RecordedPayment, ...] = ()) -> InvoiceState:
    return InvoiceState(
        **{**dict(_draft()), "status": status},
        invoice_number="INV-2026-000001",
        issue_date=date(2026, 11, 23),
        due_date=date(2026, 12, 7),
        closed_at=datetime(2026, 11, 23, 11, 0, tzinfo=UTC),
        payments=list(payments),
        payment_status="partially-paid" if payments else "unpaid",
    )


def _change(status: str = "open") -> dict[str, Any]:
    return {
        "invoice_id": "i-1",
        "order_id": "NL-10042",
        "status": status,
        "version": 3,
        "invoice": _invoice(status, (_PAYMENT,)),
    }


SAMPLE_DATA = {
    "invoice-created": DraftCreated(
        **dict(_draft()),
        invoice=InvoiceState(
            **dict(_draft()),
            invoice_number=None,
            issue_date=None,
            due_date=None,
            closed_at=None,
            payments=[],
            payment_status="unpaid",
        ),
    ),
    "invoice-closed": InvoiceClosedData(
        **dict(_draft()),
        invoice_number="INV-2026-000001",
        issue_date=date(2026, 11, 23),
        due_date=date(2026, 12, 7),
        closed_at=datetime(2026, 11, 23, 11, 0, tzinfo=UTC),
        invoice=_invoice(),
    ),
    "invoice-updated": InvoiceChanged(**_change("draft")),
    "invoice-deleted": InvoiceChanged(**_change("deleted")),
    "invoice-payment-recorded": PaymentRecordedData(**_change(), payment=_PAYMENT),
    "invoice-payment-refunded": PaymentRefundedData(
        **_change(),
        refund=Refund(
            payment_id="bank-2026-118",
            refund_id="refund-2026-7",
            amount="10.00",
            refunded_at=datetime(2026, 12, 1, tzinfo=UTC),
            reason="returned",
        ),
    ),
    "invoice-credited": InvoiceCreditedData(**_change(), credit_note_id="cn-1"),
    "invoice-overdue": InvoiceOverdueData(
        invoice_id="i-1",
        invoice_number="INV-2026-000001",
        order_id="NL-10042",
        due_date=date(2026, 12, 7),
        days_overdue=3,
        invoice=_invoice(),
    ),
    "invoice-voided": InvoiceVoidedData(
        invoice_id="i-1",
        invoice_number="INV-2026-000001",
        order_id="NL-10042",
        status="void",
        totals=_totals(),
        reason="wrong customer",
        invoice=_invoice("void"),
    ),
    "invoice-paid": InvoicePaidData(
        invoice_id="i-1",
        invoice_number="INV-2026-000001",
        order_id="NL-10042",
        status="paid",
        totals=_totals(),
        payment=PaymentData(amount="186.21", paid_at=datetime(2026, 11, 30, tzinfo=UTC)),
        invoice=_invoice("paid"),
    ),
    "notification-requested": NotificationRequestedData(
        notification_id="n-1",
        channel="email",
        recipient="administratie@devries.example",
        invoice_id="i-1",
        invoice_number="INV-2026-000001",
        order_id="NL-10042",
        customer_name="Bakkerij de Vries B.V.",
        amount_due="186.21",
        currency="EUR",
        due_date=date(2026, 12, 7),
        reason="auto",
    ),
    "invoice-command-result": InvoiceCommandResult(
        command_id="c-1",
        action="close",
        ok=True,
        invoice=InvoiceSnapshot(
            invoice_id="i-1",
            status="open",
            version=2,
            invoice_number="INV-2026-000001",
            totals=_totals(),
        ),
        warnings=["no recipient for email: not sent"],
    ),
    "invoice-documents-ready": InvoiceDocumentsReady.model_validate(
        {
            "invoiceId": "i-1",
            "invoiceNumber": "INV-2026-000001",
            "orderId": "NL-10042",
            "documents": [
                {
                    "kind": "pdf",
                    "mediaType": "application/pdf",
                    "sha256": "0" * 64,
                    "size": 48213,
                    "path": "/v1/invoices/i-1/pdf",
                }
            ],
            "unavailable": [{"kind": "ubl", "reason": "no billingAddress.country"}],
        }
    ),
    "invoice-documents-failed": InvoiceDocumentsFailed(
        invoice_id="i-1",
        invoice_number="INV-2026-000001",
        order_id="NL-10042",
        reason="rendering took longer than 300 s",
        attempts=5,
    ),
}


def test_there_is_sample_data_for_every_emitted_event_type() -> None:
    assert set(SAMPLE_DATA) == set(OUTGOING)


@pytest.mark.parametrize("event_type", sorted(SAMPLE_DATA))
def test_every_emitted_event_validates_against_its_schema(event_type: str) -> None:
    value = event_bytes(
        event_type=event_type,
        source="/invoicer",
        event_id="e-1",
        data=SAMPLE_DATA[event_type],
        correlation_id="req-5f2a",
        time=datetime(2026, 11, 23, 11, 0, tzinfo=UTC),
    )

    validator(schema_of(event_type)).validate(json.loads(value))
    assert json.loads(value)["dataschema"] == schema_of(event_type)["$id"]


def test_every_json_schema_has_an_absolute_id_of_the_contracts_version() -> None:
    ids = {
        name: json.loads(text)["$id"]
        for name, text in render_schemas().items()
        if name.endswith(".json")
    }
    for name, schema_id in ids.items():
        url = urlsplit(schema_id)
        assert (url.scheme, url.fragment) == ("https", ""), name
        assert url.path.endswith(f"/v{CONTRACT_VERSION}/{name}"), name
    assert len(set(ids.values())) == len(ids)


def test_the_asyncapi_version_is_the_packages() -> None:
    document = yaml.safe_load(render_schemas()[ASYNCAPI_FILE])
    project = tomllib.loads((SCHEMA_DIRECTORY.parent / "pyproject.toml").read_text())["project"]

    assert document["info"]["version"] == project["version"]


def test_optional_fields_of_emitted_events_are_never_null_in_the_schema() -> None:
    line = schema_of("invoice-closed")["$defs"]["InvoiceLineData"]

    assert line["properties"]["grossAmount"] == {"pattern": r"^\d+(\.\d+)?$", "type": "string"}
    assert "grossAmount" not in line["required"]


def test_asyncapi_has_a_channel_for_every_default_topic() -> None:
    document = yaml.safe_load(render_schemas()[ASYNCAPI_FILE])
    addresses = {channel["address"] for channel in document["channels"].values()}

    assert document["asyncapi"] == "3.0.0"
    assert addresses == {field.default for field in Topics.model_fields.values()}


def test_asyncapi_receives_the_incoming_topics_and_sends_the_others() -> None:
    document = yaml.safe_load(render_schemas()[ASYNCAPI_FILE])
    receiving = {
        operation["channel"]["$ref"].removeprefix("#/channels/")
        for operation in document["operations"].values()
        if operation["action"] == "receive"
    }

    assert receiving == {"orders_completed", "orders_returned", "invoice_commands", "sellers"}
    assert len(document["operations"]) == len(document["channels"])


def test_asyncapi_payloads_refer_to_the_json_schemas() -> None:
    files = render_schemas()
    messages = yaml.safe_load(files[ASYNCAPI_FILE])["components"]["messages"]
    references = {
        message["payload"]["schema"]["$ref"].removeprefix("./")
        for message in messages.values()
        if "schema" in message["payload"]
    }

    assert references == {name for name in files if name.endswith(".json")}


def test_the_dead_letter_channel_documents_its_headers() -> None:
    messages = yaml.safe_load(render_schemas()[ASYNCAPI_FILE])["components"]["messages"]

    assert set(messages["dead-letter"]["headers"]["required"]) == {
        "x-dead-letter-reason",
        "x-dead-letter-error",
        "x-original-topic",
        "x-original-partition",
        "x-original-offset",
    }
