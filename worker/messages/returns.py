"""The data of an `order-returned` event: quantities of an order's rows given back."""

from typing import Self

from pydantic import Field, ValidationError, model_validator

from worker.messages.orders import MAX_ROWS, ChargeIds, duplicate_ids
from worker.messages.values import Identifier, MessageModel, Omittable, Quantity, Text


class ReturnedRow(MessageModel):
    """A quantity of an order row that came back."""

    row_id: Identifier
    quantity: Quantity


class OrderReturned(MessageModel):
    order_id: Identifier
    return_id: Identifier
    """Names the return within its order: a return applied before changes nothing."""
    rows: list[ReturnedRow] = Field(min_length=1, max_length=MAX_ROWS)
    charges: Omittable[ChargeIds] = None
    """Order-level charges refunded whole (e.g. shipping), by chargeId."""
    reason: Omittable[Text] = None

    @model_validator(mode="after")
    def _check_rows(self) -> Self:
        errors = list(
            duplicate_ids((row.row_id for row in self.rows), lambda index: ("rows", index, "rowId"))
        )
        if errors:
            raise ValidationError.from_exception_data(type(self).__name__, errors)
        return self
