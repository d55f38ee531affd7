-- Two sellers may both have INV-2026-000001 (docs/contract.md, "Many sellers in one
-- worker"): a number is unique within its seller's invoices, not across all of them. The
-- configured seller's invoices and those without a seller share the configured series.
CREATE UNIQUE INDEX IF NOT EXISTS invoices_seller_number
    ON invoices ((coalesce(seller_id, 'default')), invoice_number);
ALTER TABLE invoices DROP CONSTRAINT IF EXISTS invoices_invoice_number_key;
