-- The read API (`invoicer api`): its list pages and their indexes.

-- The transaction that inserted the invoice. A list's first page carries its snapshot in
-- the cursor and later pages read only the invoices visible in that snapshot: a transaction
-- that began before the first page (an older created_at) and committed after it would
-- otherwise slip in between pages already served, or be skipped. Null on invoices made
-- before this column: visible to every snapshot taken since. No volatile default on ADD
-- COLUMN, which would rewrite the table under an exclusive lock.
ALTER TABLE invoices ADD COLUMN IF NOT EXISTS created_xid xid8;
ALTER TABLE invoices ALTER COLUMN created_xid SET DEFAULT pg_current_xact_id();

-- Newest first, keyset on (created_at, invoice_id), by each filter (an order has few
-- invoices: invoices_order_id serves orderId).
CREATE INDEX IF NOT EXISTS invoices_newest ON invoices (created_at, invoice_id);
CREATE INDEX IF NOT EXISTS invoices_customer_newest
    ON invoices ((customer ->> 'customerId'), created_at, invoice_id);
CREATE INDEX IF NOT EXISTS invoices_status_newest ON invoices (status, created_at, invoice_id);
