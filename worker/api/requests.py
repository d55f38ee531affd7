"""What a request to the read API may say: its paths, and the list's parameters."""

from __future__ import annotations

import re
from typing import get_args

from multidict import MultiMapping

from worker.api import cursor
from worker.api.problems import BadParameter
from worker.api.well_formed import parameter_name
from worker.domain.parties import SELLER_ID
from worker.messages.outgoing import DOCUMENT_KINDS, InvoiceStatusName
from worker.store import reads

INVOICES_PATH = "/v1/invoices"
INVOICE_PATH = "/v1/invoices/{invoiceId}"
DOCUMENT_ROUTE = INVOICE_PATH + "/{kind:" + "|".join(DOCUMENT_KINDS) + "}"
DEFAULT_PAGE_LIMIT = 50
MAX_PAGE_LIMIT = 200
LIST_PARAMETERS = ("orderId", "customerId", "status", "sellerId", "limit", cursor.PARAMETER)
STATUSES: tuple[str, ...] = get_args(InvoiceStatusName)
_LIMIT = re.compile(r"\d{1,3}")


def list_parameters(
    query: MultiMapping[str],
) -> tuple[reads.InvoiceFilter, int, reads.Position | None]:
    for name in query:
        if name not in LIST_PARAMETERS:
            raise BadParameter(
                parameter_name(name), f"not a parameter of the list: {', '.join(LIST_PARAMETERS)}"
            )
        if len(query.getall(name)) > 1:
            raise BadParameter(name, "given more than once")
    for name in ("orderId", "customerId"):
        if query.get(name) == "":
            raise BadParameter(name, "empty; leave it out for any")
    status = query.get("status")
    if status is not None and status not in STATUSES:
        raise BadParameter("status", f"one of {', '.join(STATUSES)}")
    seller_id = query.get("sellerId")
    if seller_id is not None and not SELLER_ID.fullmatch(seller_id):
        raise BadParameter("sellerId", "a seller id: 1 to 64 of A-Z a-z 0-9 . _ -")
    limit_text = query.get("limit", str(DEFAULT_PAGE_LIMIT))
    if not _LIMIT.fullmatch(limit_text) or not 1 <= int(limit_text) <= MAX_PAGE_LIMIT:
        raise BadParameter("limit", f"a whole number from 1 to {MAX_PAGE_LIMIT}")
    only = reads.InvoiceFilter(query.get("orderId"), query.get("customerId"), status, seller_id)
    after = query.get(cursor.PARAMETER)
    return only, int(limit_text), None if after is None else cursor.decode(after, only)
