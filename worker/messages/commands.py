"""The data of an `invoice-command` event: one model per `action`."""

from collections.abc import Callable
from datetime import date
from typing import Annotated, Literal, Self

from pydantic import (
    AfterValidator,
    AwareDatetime,
    Field,
    StrictBool,
    StringConstraints,
    ValidationError,
    model_validator,
)
from pydantic.networks import validate_email
from pydantic_core import InitErrorDetails, PydanticCustomError

from worker.messages.orders import (
    MAX_ROWS,
    ChargeIds,
    CustomerDetails,
    SellerId,
    duplicate_ids,
)
from worker.messages.values import (
    MAX_WHOLE_NUMBER,
    NOT_ROUNDED,
    CurrencyCode,
    Identifier,
    MessageModel,
    Note,
    Omittable,
    PaymentAmount,
    PaymentId,
    Quantity,
    Text,
    check_phone,
)

InvoiceTypeName = Literal["invoice", "credit-note"]
Channel = Literal["email", "sms"]


def _unique_row_ids(row_ids: list[str]) -> list[str]:
    errors = list(duplicate_ids(row_ids, lambda index: (index,)))
    if errors:
        raise ValidationError.from_exception_data("rowIds", errors)
    return row_ids


RowIds = Annotated[
    list[Identifier], Field(min_length=1, max_length=MAX_ROWS), AfterValidator(_unique_row_ids)
]


class LineQuantity(MessageModel):
    """A quantity of a line of the reference invoice, by its number."""

    line_no: Annotated[int, Field(ge=1, le=MAX_WHOLE_NUMBER), NOT_ROUNDED]
    quantity: Quantity


def _unique_line_nos(lines: list[LineQuantity]) -> list[LineQuantity]:
    seen: set[int] = set()
    errors = []
    for index, line in enumerate(lines):
        if line.line_no in seen:
            errors.append(
                InitErrorDetails(
                    type=PydanticCustomError(
                        "duplicate_line_no", "duplicate lineNo {line_no}", {"line_no": line.line_no}
                    ),
                    loc=(index, "lineNo"),
                    input=line.line_no,
                )
            )
        seen.add(line.line_no)
    if errors:
        raise ValidationError.from_exception_data("lines", errors)
    return lines


LinesToCredit = Annotated[
    list[LineQuantity],
    Field(min_length=1, max_length=MAX_ROWS),
    AfterValidator(_unique_line_nos),
]


def _reject(title: str, field: str, error: PydanticCustomError, value: object) -> ValidationError:
    return ValidationError.from_exception_data(
        title, [InitErrorDetails(type=error, loc=(field,), input=value)]
    )


class InvoiceCommandData(MessageModel):
    order_id: Omittable[Identifier] = None
    """The invoice's order when the sender knows it; only `create` uses it."""

    @property
    def target_invoice_id(self) -> str | None:
        """The invoice the command acts on; None for `create`, which makes one."""
        return None


class InvoiceActionData(InvoiceCommandData):
    """A command that acts on an existing invoice."""

    invoice_id: Identifier

    @property
    def target_invoice_id(self) -> str | None:
        return self.invoice_id


class CreateInvoice(InvoiceCommandData):
    action: Literal["create"]
    order_id: Identifier
    type: InvoiceTypeName = "invoice"
    reference_invoice_id: Omittable[Identifier] = None
    """The invoice a credit note credits: required for, and only for, a credit note."""
    row_ids: Omittable[RowIds] = None
    lines: Omittable[LinesToCredit] = None
    """A credit note's quantities of the reference's lines, instead of `rowIds`."""
    seller_id: Omittable[SellerId] = None
    """Who issues the invoice; must be the order's seller where the order names one."""
    charges: Omittable[ChargeIds] = None
    """A credit note's order-level charges of the reference, credited whole, by chargeId.
    None: every charge not credited yet when no `rowIds` or `lines` are named either."""
    note: Omittable[Note] = None
    due_date: Omittable[date] = None
    close: StrictBool = False

    @model_validator(mode="after")
    def _check_charges(self) -> Self:
        if self.charges is None or self.type == "credit-note":
            return self
        raise _reject(
            type(self).__name__,
            "charges",
            PydanticCustomError("credited_charges", "only a credit note credits charges"),
            None,
        )

    @model_validator(mode="after")
    def _check_lines(self) -> Self:
        if self.lines is None:
            return self
        if self.type != "credit-note":
            message = "only a credit note credits lines"
        elif self.row_ids is not None:
            message = "either lines or rowIds, not both"
        else:
            return self
        raise _reject(
            type(self).__name__,
            "lines",
            PydanticCustomError("credited_lines", message),
            None,
        )

    @model_validator(mode="after")
    def _check_reference(self) -> Self:
        needs_reference = self.type == "credit-note"
        if needs_reference and self.reference_invoice_id is None:
            message = "required for a credit note"
        elif not needs_reference and self.reference_invoice_id is not None:
            message = "only a credit note has a reference invoice"
        else:
            return self
        raise _reject(
            type(self).__name__,
            "referenceInvoiceId",
            PydanticCustomError("reference_invoice", message),
            self.reference_invoice_id,
        )


class UpdateInvoice(InvoiceActionData):
    action: Literal["update"]
    expected_version: Omittable[Annotated[int, Field(ge=1, le=MAX_WHOLE_NUMBER), NOT_ROUNDED]] = (
        None
    )
    note: Omittable[Note] = None
    due_date: Omittable[date] = None
    customer: Omittable[CustomerDetails] = None
    row_ids: Omittable[RowIds] = None


class DeleteInvoice(InvoiceActionData):
    action: Literal["delete"]


class CloseInvoice(InvoiceActionData):
    action: Literal["close"]
    send: StrictBool = False


class SendInvoice(InvoiceActionData):
    action: Literal["send"]
    channel: Channel = "email"
    recipient: Omittable[str] = None
    """An email address or an E.164 number, by channel; default: the customer's."""

    @model_validator(mode="after")
    def _check_recipient(self) -> Self:
        if self.recipient is None:
            return self
        check: Callable[[str], object] = validate_email if self.channel == "email" else check_phone
        try:
            check(self.recipient)
        except PydanticCustomError as error:
            raise _reject(type(self).__name__, "recipient", error, self.recipient) from None
        return self


class VoidInvoice(InvoiceActionData):
    action: Literal["void"]
    reason: Annotated[str, StringConstraints(min_length=1, max_length=500)]


class RecordPayment(InvoiceActionData):
    action: Literal["record-payment"]
    payment_id: Omittable[PaymentId] = None
    """Names the payment within its invoice; default: the command id."""
    amount: PaymentAmount
    paid_at: Omittable[AwareDatetime] = None
    method: Omittable[Annotated[str, StringConstraints(max_length=64)]] = None
    reference: Omittable[Text] = None
    currency: Omittable[CurrencyCode] = None
    """When given, it must be the invoice's."""


class RefundPayment(InvoiceActionData):
    action: Literal["refund-payment"]
    payment_id: PaymentId
    refund_id: Omittable[PaymentId] = None
    """Names the refund within its invoice; default: the command id. A refund id seen before
    on the invoice changes nothing."""
    amount: PaymentAmount
    reason: Omittable[Annotated[str, StringConstraints(max_length=500)]] = None
    currency: Omittable[CurrencyCode] = None
    """When given, it must be the invoice's."""


InvoiceCommand = Annotated[
    CreateInvoice
    | UpdateInvoice
    | DeleteInvoice
    | CloseInvoice
    | SendInvoice
    | VoidInvoice
    | RecordPayment
    | RefundPayment,
    Field(discriminator="action"),
]
