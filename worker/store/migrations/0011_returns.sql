-- Returns (docs/contract.md, "order-returned"): a return credits each invoice that billed
-- its rows by one credit note that names it. A return id is applied once per order: the
-- notes of one return credit different invoices, so one note per return and invoice.
ALTER TABLE invoices ADD COLUMN IF NOT EXISTS return_id text;
CREATE UNIQUE INDEX IF NOT EXISTS invoices_return_once
    ON invoices (order_id, return_id, reference_invoice_id) WHERE return_id IS NOT NULL;

-- How the customer hears of the order's invoices, which a return's credit notes follow. An
-- order stored before this was not kept with it: it gets the contract's default, 'email'
-- (a customer without an e-mail address is told nothing, as with any email delivery).
ALTER TABLE orders ADD COLUMN IF NOT EXISTS delivery text NOT NULL DEFAULT 'email';

-- A credit note's notification tells what is owed back on the invoice it credits, as it
-- was when requested, whenever the documents are ready.
ALTER TABLE document_notifications ADD COLUMN IF NOT EXISTS refund_due numeric;
