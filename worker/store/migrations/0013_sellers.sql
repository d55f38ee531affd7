-- Many sellers in one worker (docs/contract.md, "Many sellers in one worker"). A seller as
-- its last seller-updated event registered it: the party its documents show and its
-- defaults (language, payment terms, number prefixes).
CREATE TABLE IF NOT EXISTS sellers (
    seller_id text PRIMARY KEY,
    seller jsonb NOT NULL,
    defaults jsonb NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- The seller an order's invoices are issued by, and an invoice's (null: none, no
-- documents). Invoices made before this with the configured seller are the "default"
-- seller's.
ALTER TABLE orders ADD COLUMN IF NOT EXISTS seller_id text;
ALTER TABLE invoices ADD COLUMN IF NOT EXISTS seller_id text;
UPDATE invoices SET seller_id = 'default' WHERE seller IS NOT NULL AND seller_id IS NULL;

-- The read API's lists of one seller, newest first.
CREATE INDEX IF NOT EXISTS invoices_seller_newest ON invoices (seller_id, created_at, invoice_id);
