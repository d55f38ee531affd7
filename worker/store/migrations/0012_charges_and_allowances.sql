-- Order-level charges and allowances (docs/contract.md, "Order-level charges and
-- allowances"): an order's, as recorded by id; an invoice's, as it takes them, each with
-- its parts per tax group (a credit note's: what it credits of them). A live invoice holds
-- its order's charges and allowances as it holds its rows.
ALTER TABLE orders ADD COLUMN IF NOT EXISTS adjustments jsonb NOT NULL DEFAULT '[]';
ALTER TABLE invoices ADD COLUMN IF NOT EXISTS adjustments jsonb NOT NULL DEFAULT '[]';
