-- The payment terms an order's last message stated (invoicing.paymentTermsDays): its
-- invoices made later by `create` take them too. NULL: the seller's, else the configured.
ALTER TABLE orders ADD COLUMN IF NOT EXISTS payment_terms_days integer;
