"""Invoice numbers and due dates."""

from datetime import date, timedelta


def invoice_number(prefix: str, year: int, sequence: int) -> str:
    """The number of a closed invoice in its series: "INV-2026-000001"."""
    return f"{prefix}-{year}-{sequence:06d}"


def due_date(issue_date: date, payment_terms_days: int) -> date:
    return issue_date + timedelta(days=payment_terms_days)
