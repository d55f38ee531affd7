"""The customer an invoice is addressed to: where it can be reached, and how its details change."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from worker.domain.parties import Customer
from worker.domain.rules import RuleViolation

CHANNEL_DETAIL = {"email": "email", "sms": "phone"}
"""The customer detail that addresses each notification channel."""


def address_for(customer: Customer, channel: str) -> str | None:
    """The customer's address for a notification channel, or None when it has none."""
    address: str | None = getattr(customer, CHANNEL_DETAIL[channel])
    return address or None


def merge_customer(customer: Customer, changes: Mapping[str, Any]) -> Customer:
    """The details named in `changes` (by attribute) replace the customer's; a detail set to
    None goes."""
    if "name" in changes and changes["name"] is None:
        raise RuleViolation("customer.name", "a customer needs a name")
    return replace(customer, **changes)
