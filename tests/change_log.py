"""The change log read back (docs/contract.md): `invoices.closed` and `invoices.events` folded
by `invoiceId`, keeping the highest `version`, must give every invoice as it is stored."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from worker.domain.lifecycle import Invoice
from worker.publishing.snapshots import invoice_state

NOT_A_CHANGE = frozenset({"invoice-overdue"})
"""Events that carry the invoice without changing it."""


def fold(events: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """invoiceId → the `data.invoice` of its highest version, from parsed events."""
    folded: dict[str, dict[str, Any]] = {}
    for event in events:
        invoice = event["data"].get("invoice")
        if invoice is None:
            continue
        known = folded.get(invoice["invoiceId"])
        if known is None or invoice["version"] > known["version"]:
            folded[invoice["invoiceId"]] = invoice
    return folded


def changes(events: Iterable[dict[str, Any]]) -> dict[str, list[int]]:
    """invoiceId → the versions its change-log events announce, each event once (by id)."""
    seen: dict[str, dict[str, int]] = defaultdict(dict)
    for event in events:
        invoice = event["data"].get("invoice")
        if invoice is not None and event["type"] not in NOT_A_CHANGE:
            seen[invoice["invoiceId"]][event["id"]] = invoice["version"]
    return {invoice_id: sorted(ids.values()) for invoice_id, ids in seen.items()}


def stored(invoices: Iterable[Invoice]) -> dict[str, dict[str, Any]]:
    """invoiceId → the stored invoice in the change log's model, as JSON would carry it."""
    return {
        invoice.invoice_id: json.loads(invoice_state(invoice).model_dump_json())
        for invoice in invoices
    }


def differences(
    folded: dict[str, dict[str, Any]], expected: dict[str, dict[str, Any]]
) -> list[str]:
    """Field by field, what the fold says that the store does not (empty when equal)."""
    found = [f"{invoice_id}: not in the change log" for invoice_id in expected.keys() - folded]
    found += [f"{invoice_id}: not stored" for invoice_id in folded.keys() - expected]
    for invoice_id in sorted(folded.keys() & expected.keys()):
        got, want = folded[invoice_id], expected[invoice_id]
        found += [
            f"{invoice_id}.{name}: change log {got.get(name)!r}, stored {want.get(name)!r}"
            for name in sorted(got.keys() | want.keys())
            if got.get(name) != want.get(name)
        ]
    return found


def missing_changes(versions: dict[str, list[int]], invoices: Iterable[Invoice]) -> list[str]:
    """Invoices whose change-log events are not exactly one per version 1..n."""
    return [
        f"{invoice.invoice_id}: versions {versions.get(invoice.invoice_id, [])},"
        f" stored at version {invoice.version}"
        for invoice in invoices
        if versions.get(invoice.invoice_id, []) != list(range(1, invoice.version + 1))
    ]
