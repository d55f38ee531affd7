"""Documents through the real worker, broker and database (docs/contract.md, "Documents"):
a closed invoice is announced with invoice-documents-ready, its documents are stored by
sha256, its automatic notification waits for them and carries them; a crash between
rendering and storing loses nothing and stores the same bytes."""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import asyncpg
import pytest

from tests.examples import example
from tests.integration.flows import await_event, publish_order
from tests.integration.kafka_client import KafkaClient
from tests.integration.operations import running_worker
from tests.sellers import SELLER
from worker.renderer import Renderer
from worker.settings import Settings
from worker.store import documents
from worker.store.pool import create_pool

pytestmark = pytest.mark.integration


@pytest.fixture
def selling(settings: Settings) -> Settings:
    return settings.model_copy(update={"seller": SELLER})


async def _documents_ready(kafka: KafkaClient, settings: Settings, order_id: str) -> dict[str, Any]:
    ready = await await_event(
        kafka,
        settings.topics.invoice_events,
        lambda e: e["type"] == "invoice-documents-ready" and e["data"]["orderId"] == order_id,
    )
    data: dict[str, Any] = ready.event["data"]
    return data


async def test_a_closed_invoice_gets_its_documents_and_its_notification_carries_them(
    selling: Settings, kafka: KafkaClient, db: asyncpg.Connection
) -> None:
    async with running_worker(selling):
        await publish_order(kafka, selling, example("order-completed-intra-community.json"))
        ready = await _documents_ready(kafka, selling, "NL-20017")
        notification = await await_event(
            kafka,
            selling.topics.notifications_requested,
            lambda e: e["data"]["orderId"] == "NL-20017",
        )
        closed = await await_event(
            kafka, selling.topics.invoices_closed, lambda e: e["data"]["orderId"] == "NL-20017"
        )

    invoice_id = ready["invoiceId"]
    assert [d["kind"] for d in ready["documents"]] == ["pdf", "ubl"]
    assert ready["unavailable"] == []
    for document in ready["documents"]:
        content = await documents.document_content(db, invoice_id, document["kind"])
        assert content is not None
        assert hashlib.sha256(content).hexdigest() == document["sha256"]
        assert len(content) == document["size"]
        assert document["path"] == f"/v1/invoices/{invoice_id}/{document['kind']}"
    assert notification.event["data"]["documents"] == ready["documents"]
    assert notification.event["data"]["invoiceId"] == invoice_id
    ubl = await documents.document_content(db, invoice_id, "ubl")
    assert ubl is not None
    assert b"<cbc:BuyerReference>04011000-12345-03</cbc:BuyerReference>" in ubl
    assert b"<cbc:TaxExemptionReasonCode>VATEX-EU-IC</cbc:TaxExemptionReasonCode>" in ubl
    data = closed.event["data"]
    assert data["seller"]["name"] == SELLER.name
    assert data["buyerReference"] == "04011000-12345-03"
    assert data["taxBreakdown"] == [
        {
            "taxRate": "0",
            "taxableAmount": "784.60",
            "taxAmount": "0.00",
            "taxCategory": "K",
            "taxExemptionReasonCode": "VATEX-EU-IC",
        }
    ]
    assert await db.fetchval("SELECT count(*) FROM render_jobs") == 0
    with pytest.raises(asyncpg.RaiseError):
        await db.execute("UPDATE invoice_documents SET size = 1")


async def test_a_crash_between_rendering_and_storing_stores_the_same_bytes_later(
    selling: Settings, kafka: KafkaClient, db: asyncpg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_worker(selling):
        await publish_order(kafka, selling, example("order-completed-intra-community.json"))
        ready = await _documents_ready(kafka, selling, "NL-20017")
    invoice_id = ready["invoiceId"]
    # As it was before the renderer's transaction committed: a job, no documents.
    await db.execute("DELETE FROM invoice_documents WHERE invoice_id = $1", invoice_id)
    await db.execute(
        "INSERT INTO render_jobs (invoice_id, correlation_id) VALUES ($1, 'c')", invoice_id
    )
    pool = await create_pool(selling.database_url)
    try:
        with ThreadPoolExecutor(1) as executor:
            renderer = Renderer(selling, pool, executor)
            store = documents.store_documents

            async def crash(*args: Any) -> Any:
                raise ConnectionResetError("the worker died while storing")

            monkeypatch.setattr(documents, "store_documents", crash)
            with pytest.raises(ConnectionResetError):
                await renderer.render_next()
            assert await db.fetchval("SELECT count(*) FROM render_jobs") == 1
            assert await db.fetchval("SELECT count(*) FROM invoice_documents") == 0

            monkeypatch.setattr(documents, "store_documents", store)
            assert await renderer.render_next()
    finally:
        await pool.close()

    stored = {d.kind: d.sha256 for d in await documents.documents_of(db, invoice_id)}
    assert stored == {d["kind"]: d["sha256"] for d in ready["documents"]}
    assert await db.fetchval("SELECT count(*) FROM render_jobs") == 0
