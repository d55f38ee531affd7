"""The customer an invoice is addressed to: its details and where it can be reached."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from worker.domain.rules import RuleViolation

CHANNEL_DETAIL = {"email": "email", "sms": "phone"}
"""The customer detail that addresses each notification channel."""


def address_for(customer: Mapping[str, Any], channel: str) -> str | None:
    """The customer's address for a notification channel, or None when it has none."""
    address = customer.get(CHANNEL_DETAIL[channel])
    return str(address) if address else None


def merge_customer(
    customer: Mapping[str, Any], changes: Mapping[str, Any | None]
) -> dict[str, Any]:
    """The details named in `changes` replace the customer's; a detail set to None goes."""
    merged = dict(customer)
    for name, value in changes.items():
        if value is None:
            merged.pop(name, None)
        else:
            merged[name] = value
    if "name" not in merged:
        raise RuleViolation("customer.name", "a customer needs a name")
    return merged
